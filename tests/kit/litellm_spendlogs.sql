-- LiteLLM's request log table, as the LiteLLM proxy creates it in its Postgres database.
--
-- Source: `model LiteLLM_SpendLogs` in litellm/proxy/schema.prisma of the PyPI package litellm 1.110.2
-- (site-packages/litellm/proxy/schema.prisma; datasource provider "postgresql"). Columns in the model's order.
-- Types mapped as Prisma's PostgreSQL connector maps them (the DDL `prisma migrate` writes):
--   String -> TEXT, Int -> INTEGER, Float -> DOUBLE PRECISION, DateTime -> TIMESTAMP(3) (no time zone; LiteLLM
--   writes UTC), Json -> JSONB; a field without `?` -> NOT NULL; @default("x") -> DEFAULT 'x';
--   @default(now()) -> DEFAULT CURRENT_TIMESTAMP (@updatedAt adds no database default: Prisma's client sets it);
--   @id -> CONSTRAINT "<Model>_pkey" PRIMARY KEY; @@index([a, b]) -> INDEX "<Model>_a_b_idx".
-- Cross-checked against the SQL Prisma generated for the same model, in the migrations that the package
-- litellm-proxy-extras 0.4.110 ships (litellm_proxy_extras/migrations/*/migration.sql, baseline 20250326162113
-- and the ALTER TABLE migrations after it; the last two indexes' names from its request_log_indexes.py, which
-- builds them after the migrations): same types, nullability, defaults and index names.
-- tests/test_kit_postgres.py checks this file against the schema.prisma of the litellm that is installed.

CREATE TABLE "LiteLLM_SpendLogs" (
    "request_id" TEXT NOT NULL,
    "call_type" TEXT NOT NULL,
    "api_key" TEXT NOT NULL DEFAULT '',
    "spend" DOUBLE PRECISION NOT NULL DEFAULT 0.0,
    "total_tokens" INTEGER NOT NULL DEFAULT 0,
    "prompt_tokens" INTEGER NOT NULL DEFAULT 0,
    "completion_tokens" INTEGER NOT NULL DEFAULT 0,
    "startTime" TIMESTAMP(3) NOT NULL,
    "endTime" TIMESTAMP(3) NOT NULL,
    "request_duration_ms" INTEGER,
    "completionStartTime" TIMESTAMP(3),
    "model" TEXT NOT NULL DEFAULT '',
    "model_id" TEXT DEFAULT '',
    "model_group" TEXT DEFAULT '',
    "custom_llm_provider" TEXT DEFAULT '',
    "api_base" TEXT DEFAULT '',
    "user" TEXT DEFAULT '',
    "metadata" JSONB DEFAULT '{}',
    "cache_hit" TEXT DEFAULT '',
    "cache_key" TEXT DEFAULT '',
    "request_tags" JSONB DEFAULT '[]',
    "team_id" TEXT,
    "organization_id" TEXT,
    "end_user" TEXT,
    "requester_ip_address" TEXT,
    "messages" JSONB DEFAULT '{}',
    "response" JSONB DEFAULT '{}',
    "session_id" TEXT,
    "status" TEXT,
    "mcp_namespaced_tool_name" TEXT,
    "billing_agent_id" TEXT,
    "agent_id" TEXT,
    "proxy_server_request" JSONB DEFAULT '{}',
    "litellm_call_id" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "LiteLLM_SpendLogs_pkey" PRIMARY KEY ("request_id")
);

CREATE INDEX "LiteLLM_SpendLogs_startTime_idx" ON "LiteLLM_SpendLogs"("startTime");
CREATE INDEX "LiteLLM_SpendLogs_startTime_request_id_idx" ON "LiteLLM_SpendLogs"("startTime", "request_id");
CREATE INDEX "LiteLLM_SpendLogs_end_user_idx" ON "LiteLLM_SpendLogs"("end_user");
CREATE INDEX "LiteLLM_SpendLogs_session_id_idx" ON "LiteLLM_SpendLogs"("session_id");
CREATE INDEX "LiteLLM_SpendLogs_litellm_call_id_idx" ON "LiteLLM_SpendLogs"("litellm_call_id");
CREATE INDEX "LiteLLM_SpendLogs_api_key_startTime_idx" ON "LiteLLM_SpendLogs"("api_key", "startTime");
