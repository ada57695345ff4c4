"""Defaults defined once: the files tiertool reads and writes, and the thresholds a user may override."""

AUDIT_DIR = ".tiertool"  # the audit folder (`--out` of audit, `--audit` of recommend and report)
AUDIT_DB = "audit.sqlite"  # the latest audit, inside the audit folder
CACHE_FILE = "cache.sqlite"  # the answer cache, inside the audit folder unless `replay.cache` says otherwise
CONFIG_FILE = "tiertool.yaml"
TIERS_FILE = "tiers.yaml"  # the assignment `recommend` writes and `report --check` / `monitor` read
DRIFT_THRESHOLD = 0.25  # the usual "significant shift" level of the population stability index
