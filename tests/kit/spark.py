"""A local-mode Spark session (pyspark from PyPI, the machine's Java 17) shared by the whole test session.

Why: `--engine spark` must run its queries on a real Spark. One local core, a small driver heap, no UI, logs at
ERROR, settings for small fast queries, everything Spark writes kept in a temp dir, all traffic on loopback.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Tests run many small queries: compiling Java for each query (whole-stage codegen), adaptive re-planning and the
# JVM's optimising JIT cost more than they save there; results are the same. Start + two first queries took a
# median 51 s against 95 s with the defaults (5 and 8 interleaved runs on this shared, loaded 2-core machine).
JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
# The JVM logs WARN lines (native Hadoop, loopback address) at start-up before setLogLevel can run.
LOG4J2 = """rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
"""


def spark_unavailable() -> str | None:
    """Why a local Spark cannot start here, or None."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install -e '.[test]')"
    java_home = os.environ.get("JAVA_HOME")
    if not (java_home and Path(java_home, "bin", "java").exists()) and not shutil.which("java"):
        return "no Java runtime (set JAVA_HOME or put `java` on PATH; Spark needs Java 17+)"
    return None


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """A `SparkSession` on `local[1]`; skips, saying why, where pyspark or Java is missing or Spark cannot start."""
    reason = spark_unavailable()
    if reason:
        pytest.skip(reason)
    from pyspark.sql import SparkSession

    with tempfile.TemporaryDirectory(prefix="tiertool-spark-") as tmp, pytest.MonkeyPatch.context() as env:
        log_config = Path(tmp, "log4j2.properties")
        log_config.write_text(LOG4J2, encoding="utf-8")
        env.setenv("SPARK_LOCAL_IP", "127.0.0.1")
        env.setenv("PYSPARK_PYTHON", sys.executable)  # Python workers run in this venv
        builder = (SparkSession.builder.master("local[1]").appName("tiertool-tests")
                   .config("spark.driver.memory", "512m")
                   .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
                   .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
                   .config("spark.sql.shuffle.partitions", "2").config("spark.sql.session.timeZone", "UTC")
                   .config("spark.local.dir", tmp).config("spark.sql.warehouse.dir", str(Path(tmp, "warehouse")))
                   .config("spark.sql.codegen.wholeStage", "false").config("spark.sql.adaptive.enabled", "false")
                   .config("spark.driver.extraJavaOptions",
                           f"{JVM_OPTIONS} -Dlog4j2.configurationFile=file:{log_config}"))
        try:
            session = builder.getOrCreate()
        except Exception as e:  # the JVM failed to start: Java too old, no memory, ...
            pytest.skip(f"local Spark did not start: {type(e).__name__}: {str(e)[:300]}")
        session.sparkContext.setLogLevel("ERROR")
        try:
            yield session
        finally:
            session.stop()
