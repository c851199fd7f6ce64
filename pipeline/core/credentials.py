"""Credentials stay in the environment: a tracking URI that carries them is refused before
anything is written, since Hydra's output folder, `params.yaml` and the run's record would
all keep the URI as it was given. What is printed about a URI has its password masked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# scheme://userinfo@ ; the userinfo ends at the last "@" before the path (a password may hold "@")
_USERINFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)([^\s/'\"]*)@")


def _masked_userinfo(userinfo: str) -> str:
    user, colon, _ = userinfo.partition(":")
    return f"{user}:***" if colon else "***"


def mask_credentials(text: str) -> str:
    """`text` with the user info of every URI in it masked: `http://bob:***@host`, and
    `http://***@host` for a user part alone (it may be a token)."""
    return _USERINFO.sub(lambda m: f"{m.group(1)}{_masked_userinfo(m.group(2))}@", text)


def credentials_error(uri: str | None) -> str | None:
    """Why `uri` (a `tracking.uri`) may not be used, as one line with its password masked;
    None when it carries no credentials. An HTTP(S) URI may carry none (MLflow takes them
    from MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD); any other, no password (a
    database user alone, `postgresql://mlflow@host/db`, is no secret)."""
    if not uri:
        return None
    found = _USERINFO.match(uri)
    if found is None:
        return None
    scheme, userinfo = found.group(1), found.group(2)
    user, colon, _ = userinfo.partition(":")
    bare = scheme + uri[found.end() :]
    masked = mask_credentials(uri)
    kept = "Hydra's output folder and the run's record would keep it"
    if scheme.lower() in ("http://", "https://"):
        name = user if colon and user else "NAME"  # a user part alone may be a token: not echoed
        account = f"MLFLOW_TRACKING_USERNAME={name} MLFLOW_TRACKING_PASSWORD=..."
        return (
            f"tracking.uri {masked} holds credentials, and {kept}; pass tracking.uri={bare} "
            f"and the credentials in the environment: export {account}"
        )
    if not colon:
        return None
    return (
        f"tracking.uri {masked} holds a password, and {kept}; leave tracking.uri unset and "
        "give the whole URI in the environment: export MLFLOW_TRACKING_URI='...'"
    )


def credentials_in_overrides(arguments: Iterable[str]) -> str | None:
    """`credentials_error` for a `tracking.uri=...` among command-line overrides (`+` or `++`
    prefixed, the value quoted or not), before Hydra writes them anywhere."""
    for argument in arguments:
        key, equals, value = argument.lstrip("+~").partition("=")
        if equals and key.strip() == "tracking.uri":
            error = credentials_error(value.strip().strip("'\""))
            if error:
                return error
    return None
