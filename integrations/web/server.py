"""Running the page: TLS with the gateway's certificate, or plain HTTP on loopback only.

>>> check_listen(ServeConfig(host="0.0.0.0", allow_http=True))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
integrations.web.server.ServeError: plain HTTP only on a loopback address ... for development; ...
>>> check_listen(ServeConfig(host="127.0.0.1", allow_http=True))  # development: allowed
"""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

from edge.config import Config
from edge.sections.serve import ServeConfig, is_loopback

logger = logging.getLogger(__name__)


class ServeError(Exception):
    """The page cannot be served as configured; the message says what to change."""


def check_listen(conf: ServeConfig) -> None:
    """Refuse plain HTTP anywhere but loopback, and a certificate that cannot be used."""
    if not conf.tls:
        if not conf.allow_http:
            raise ServeError(
                "serve needs the gateway's TLS certificate: --cert and --key (or "
                "serve.cert_file and serve.key_file); for development on this machine only, "
                "--allow-http with --host 127.0.0.1"
            )
        if not is_loopback(conf.host):
            raise ServeError(
                "plain HTTP only on a loopback address (127.0.0.1, ::1, localhost) for "
                f"development; {conf.host} is reachable from the network: give the gateway's "
                "certificate (--cert/--key or serve.cert_file/key_file)"
            )
        return
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(str(conf.cert_file), str(conf.key_file))
    except FileNotFoundError as err:
        raise ServeError(
            f"cannot read {err.filename}: no such file (the certificate or its key)"
        ) from err
    except PermissionError as err:
        raise ServeError(
            f"cannot read {err.filename}: permission denied (the service user needs to read "
            "the gateway's certificate and key)"
        ) from err
    except ssl.SSLError as err:
        raise ServeError(
            f"{conf.cert_file} and {conf.key_file} are not a PEM certificate and its key: "
            f"{err.reason or err}"
        ) from err


def run(config: Config, conf: ServeConfig, state_dir: Path) -> None:
    """Serve until stopped (SIGTERM, Ctrl-C)."""
    import uvicorn

    from integrations.web.app import make_app, open_site

    check_listen(conf)
    site = open_site(state_dir, config, conf, secure=conf.tls)
    app = make_app(site)
    scheme = "https" if conf.tls else "http"
    logger.warning("Serving the signal page on %s://%s:%d", scheme, conf.host, conf.port)
    try:
        uvicorn.run(
            app,
            host=conf.host,
            port=conf.port,
            ssl_certfile=str(conf.cert_file) if conf.cert_file else None,
            ssl_keyfile=str(conf.key_file) if conf.key_file else None,
            proxy_headers=False,
            server_header=False,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=5,
        )
    finally:
        site.store.close()
