"""What a config key means, for the keys whose model gives no description yet.

Each entry is used only while the model's own ``Field(description=...)`` (or its docstring's
``Attributes:`` section) is silent: ``tests/apilink/scaffold/test_notes.py`` fails when a note
names a key that no longer exists or that the model now describes itself, so the models stay
the one source and these notes only fill their gaps. Move a note into its model's ``Field`` when
you next edit that model.
"""

from __future__ import annotations

__all__ = ["FIELD_NOTES"]

_OAUTH2 = {
    "client_id": "The OAuth 2 client id registered at the authorization server.",
    "token_url": "The token endpoint (https).",
    "scope": "Space-separated scopes to ask for.",
    "audience": "The `audience` parameter some servers (Auth0 and the like) require.",
    "extra_token_params": "More form parameters for the token request.",
}

FIELD_NOTES: dict[str, dict[str, str]] = {
    "SyncConfig": {
        "name": "The sync's name, shown in logs, summaries and checkpoints.",
        "source": "The API records are read from.",
        "target": "The API records are written to.",
        "mapping": "Which source endpoint feeds which target endpoint, and how each record "
        "is reshaped; at least one.",
        "timeout": "Default request timeouts for both APIs (a number sets every phase).",
        "retry": "Default retry policy for both APIs.",
        "logging": "Log level, log and audit files, and the fields masked in logs.",
        "security": "Access control: users, their roles and the credential store password.",
        "credentials": "Where `secret://name#field` references are read from.",
        "incremental": "Read only records changed since the last acknowledged run.",
    },
    "ConnectionConfig": {
        "base_url": "The API's root URL; endpoint paths are relative to it. https://, or "
        "http:// for loopback (or with `allow_insecure_http`).",
        "auth": "How requests are authenticated, chosen by `type`.",
        "headers": "Headers sent with every request to this API.",
        "timeout": "Request timeouts for this API; overrides the top-level `timeout`.",
        "retry": "Retry policy for this API; overrides the top-level `retry`.",
        "endpoints": "The API's endpoints by name; mappings refer to these names.",
        "allow_insecure_http": "Allow http:// to a host that is not loopback (credentials "
        "then cross the network in clear).",
        "max_concurrency": "Requests in flight at once to this API.",
    },
    "EndpointConfig": {
        "path": "Path under `base_url`; a target path may name record fields, `/users/{id}`.",
        "method": "HTTP method: GET for a source; POST, PUT, PATCH or DELETE for a target.",
        "params": "Query parameters sent with every request.",
        "headers": "Headers for this endpoint, added to the connection's.",
        "pagination": "How a source endpoint's pages are read; one page when unset.",
        "batch": "Send records to the target as lists of `batch_size`, not one per request.",
        "batch_size": "Records per request when `batch` is true.",
    },
    "FieldMapping": {
        "source": "The source record path read (`profile.first_name`, `tags[0].name`).",
        "target": "The target record path written (`contact.email`, `labels[0]`).",
        "transform": "Transformers applied in order (`strip`, `lowercase`, `iso_to_timestamp`"
        "...); one name or a list.",
        "default": "Used when the source value is absent or null (or as the only origin).",
        "value": "A constant written as is.",
        "condition": "Map this field only when the condition on the source record holds.",
    },
    "FieldCondition": {
        "path": "The source record path the condition reads.",
        "eq": "Holds when the value equals this.",
        "ne": "Holds when the value differs from this (or is absent).",
        "gt": "Holds when the value is greater (numbers with numbers, strings with strings).",
        "lt": "Holds when the value is smaller (numbers with numbers, strings with strings).",
        "in": "Holds when the value is one of these.",
        "exists": "`true`: holds when the value is present and not null.",
        "not_exists": "`true`: holds when the value is absent or null.",
    },
    "ValidationRules": {
        "required_fields": "Record paths that must be present and not empty.",
        "email_fields": "Record paths that must hold an email address.",
        "max_invalid_ratio": "Fail the run when more than this share of records is "
        "quarantined (0 to 1).",
    },
    "RangeSpec": {
        "min": "Smallest value allowed (inclusive).",
        "max": "Largest value allowed (inclusive).",
    },
    "MappingConfig": {
        "source": "Name of a `source.endpoints` entry.",
        "target": "Name of a `target.endpoints` entry.",
        "fields": "The target record's fields; each from a source path, a `value`, a "
        "`template` or a `default`.",
        "validation": "Checks each source record must pass; failing records are quarantined.",
    },
    "TimeoutConfig": {
        "connect": "Seconds to open a connection.",
        "read": "Seconds to wait for response bytes.",
        "write": "Seconds to send the request body.",
        "pool": "Seconds to wait for a free connection from the pool.",
    },
    "RetryConfig": {
        "backoff_factor": "Exponential backoff base, in seconds (factor * 2^attempt).",
        "max_backoff": "Longest wait between two tries, in seconds.",
        "retry_on_status": "HTTP statuses that are tried again.",
    },
    "LoggingConfig": {
        "level": "Log level (any case).",
        "file": "Also write logs to this file.",
        "security_audit": "Write audit lines (who ran what, denials) to `audit_file`.",
        "filter_fields": "Names whose values are masked in logs, quarantine and dead letters, "
        "on top of the built-in secret names (password, token, secret, api_key...).",
    },
    "SecurityConfig": {
        "enable_access_control": "Check each command and run against the users' roles.",
        "users": "Users and their roles, given inline.",
        "users_file": "A file of users and roles (`apilink users`), instead of `users`.",
        "credential_storage_path": "The encrypted credential file (`apilink credentials`).",
    },
    "UserConfig": {
        "username": "The user's name.",
        "role": "The user's role (`apilink users roles` lists them).",
    },
    "IncrementalConfig": {
        "cursor_field": "Record path of the value that grows with each change "
        "(`updated_at`, an id); its highest acknowledged value is saved when a pass ends. "
        "Compared as numbers, as ISO-8601 instants (any offset; none means UTC) or as text.",
        "param": "Query parameter the cursor is sent in on the next run. A record at or below "
        "the value sent is skipped on the client side too (counted as `skipped`), so a source "
        "that ignores the parameter is not loaded again; one without the field is kept.",
        "initial_value": "Cursor sent (and filtered on) on the first run; none when unset.",
        "lag": "Move the cursor sent back by this much (seconds for timestamps, units for "
        "numbers) so records written late are read again; records within it are delivered "
        "again too (same idempotency keys).",
    },
    "ApiKeyAuthConfig": {
        "header": "Header that carries the key when `in` is `header`.",
        "in": "Send the key in a `header` or as a `query` parameter.",
        "param_name": "Query parameter that carries the key when `in` is `query`.",
    },
    "BasicAuthConfig": {"username": "The user name."},
    "OAuth2ClientCredentialsConfig": dict(_OAUTH2),
    "OAuth2PKCEConfig": {
        **_OAUTH2,
        "redirect_uri": "Where the authorization server sends the browser back "
        "(`apilink auth login` listens there).",
        "authorization_url": "The authorization endpoint the browser is sent to.",
    },
    "OAuth2DeviceFlowConfig": {
        **_OAUTH2,
        "device_authorization_url": "The device authorization endpoint (RFC 8628).",
    },
    "FileStoreConfig": {
        "path": "The encrypted credential file.",
        "kdf": "How the file key is derived from the password.",
    },
    "VaultStoreConfig": {
        "url": "The Vault or OpenBao server.",
        "auth": "How apilink logs in to Vault, chosen by `method`.",
        "mount_point": "The KV secrets engine's mount.",
        "kv_version": "KV engine version, 1 or 2.",
        "path_prefix": "Prefix before each `secret://` name.",
        "namespace": "Vault Enterprise / OpenBao namespace.",
        "timeout": "Seconds per Vault request.",
    },
    "VaultTokenAuth": {"method": "Selects token login: `token`."},
    "VaultAppRoleAuth": {
        "method": "Selects AppRole login: `approle`.",
        "role_id": "The AppRole role id.",
        "mount_point": "Where the AppRole auth method is mounted.",
    },
    "BlockStoreConfig": {"block": "Name of the saved Prefect block."},
    "PageRangePartitions": {
        "count": "How many partitions (child flow runs).",
        "first_page": "First page to read.",
        "last_page": "Last page of the estimate the ranges are cut from.",
    },
    "IdRangePartitions": {
        "count": "How many partitions (child flow runs).",
        "start": "Lowest id (inclusive).",
        "stop": "Upper id bound (exclusive).",
    },
    "ValuePartitions": {
        "param": "Query parameter each partition sends its value in.",
        "values": "One partition per value.",
    },
    "RateLimitConfig": {"requests_per_second": "Requests per second, shared by every worker."},
}
