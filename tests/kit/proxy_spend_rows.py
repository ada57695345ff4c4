"""A LiteLLM proxy callback that writes the spend rows the proxy would store, built by the proxy's own code.

Why: without a database the proxy writes no `LiteLLM_SpendLogs` rows (a database needs Prisma's engines, which
cannot be downloaded here). This callback asks the proxy's own `get_logging_payload` for each request's row, as
its database writer does, and appends it with the request's StandardLoggingPayload to the JSON-lines file named
by TIERTOOL_KIT_SPEND_ROWS. Listed in a config as `litellm_settings.callbacks: [tests.kit.proxy_spend_rows.writer]`;
loaded only inside the proxy process.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any

from litellm.integrations.custom_logger import CustomLogger


class SpendRowWriter(CustomLogger):
    async def async_log_success_event(self, kwargs: dict[str, Any], response_obj: Any, start_time: datetime,
                                      end_time: datetime) -> None:
        from litellm.proxy.proxy_server import llm_router
        from litellm.proxy.spend_tracking.spend_tracking_utils import get_logging_payload

        row = get_logging_payload(kwargs=kwargs, response_obj=response_obj, start_time=start_time,
                                  end_time=end_time, llm_router=llm_router)
        record = {"spend_row": row, "standard_logging_object": kwargs.get("standard_logging_object")}
        with open(os.environ["TIERTOOL_KIT_SPEND_ROWS"], "a", encoding="utf-8") as out:
            out.write(json.dumps(record, default=str) + "\n")


writer = SpendRowWriter()
