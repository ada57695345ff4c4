"""Domain errors. The CLI turns each into one line and an exit code in one place (cli.py)."""


class TiertoolError(Exception):
    """Base class; `exit_code` is what the CLI exits with."""

    exit_code = 2


class ConfigError(TiertoolError):
    """tiertool.yaml is missing, unreadable or invalid."""


class InputError(TiertoolError):
    """A log, audit folder or tiers file cannot be used as given."""


class ReplayError(TiertoolError):
    """A tier cannot be called at all (no key, unreachable endpoint, unknown model)."""

    exit_code = 1


class IncompleteAudit(TiertoolError):
    """An audit that did not finish (a tier could not be called, answers missing): its evidence is partial."""

    exit_code = 1


class StorageError(TiertoolError):
    """The audit folder or the answer cache cannot be written (permissions, a full disk)."""

    exit_code = 1
