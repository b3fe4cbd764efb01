"""The one Kafka security block (`KafkaSecuritySettings`) in the two forms our clients take it:
librdkafka settings for confluent-kafka producers, consumers and admin clients, and Faust broker
credentials for the Faust apps (aiokafka underneath)."""

from __future__ import annotations

import ssl
from typing import Any

from datatracing.pipeline.config import KafkaSecuritySettings
from datatracing.pipeline.errors import ConfigError


def _secret(value: Any) -> str | None:
    return None if value is None else str(value.get_secret_value())


def librdkafka_security(security: KafkaSecuritySettings) -> dict[str, str]:
    """librdkafka settings for `security` (`security.protocol`, `sasl.*`, `ssl.*`); only what is set.

        Example:
            >>> from datatracing.pipeline.config import KafkaSecuritySettings
    from datatracing.pipeline.errors import ConfigError
            >>> librdkafka_security(KafkaSecuritySettings())
            {'security.protocol': 'plaintext'}
    """
    config: dict[str, str] = {"security.protocol": security.protocol.lower()}
    if security.uses_sasl:
        config["sasl.mechanism"] = security.sasl_mechanism
        config["sasl.username"] = security.sasl_username or ""
        config["sasl.password"] = _secret(security.sasl_password) or ""
    if security.uses_ssl:
        optional = {
            "ssl.ca.location": security.ssl_ca_location,
            "ssl.certificate.location": security.ssl_certificate_location,
            "ssl.key.location": security.ssl_key_location,
            "ssl.key.password": _secret(security.ssl_key_password),
        }
        config.update({k: v for k, v in optional.items() if v is not None})
    return config


def ssl_context(security: KafkaSecuritySettings) -> ssl.SSLContext:
    """A client TLS context verifying the brokers against `ssl_ca_location` (the system CAs when
    unset), presenting the client certificate when one is configured. Files that cannot be read
    raise `ConfigError` naming the setting."""
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=security.ssl_ca_location)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"kafka.security.ssl_ca_location: cannot load {security.ssl_ca_location}: {exc}"
        ) from exc
    if security.ssl_certificate_location is not None:
        try:
            context.load_cert_chain(
                security.ssl_certificate_location,
                security.ssl_key_location,
                password=_secret(security.ssl_key_password),
            )
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                "kafka.security.ssl_certificate_location / ssl_key_location: cannot load "
                f"{security.ssl_certificate_location}: {exc}"
            ) from exc
    return context


def faust_credentials(security: KafkaSecuritySettings) -> Any:
    """`faust.App(broker_credentials=...)` for `security`: None for PLAINTEXT, `faust.SSLCredentials`
    for SSL, `faust.SASLCredentials` (with a TLS context for SASL_SSL) for SASL."""
    import faust

    if security.protocol == "PLAINTEXT":
        return None
    if security.protocol == "SSL":
        return faust.SSLCredentials(ssl_context(security))
    return faust.SASLCredentials(
        username=security.sasl_username,
        password=_secret(security.sasl_password),
        mechanism=security.sasl_mechanism,
        ssl_context=ssl_context(security) if security.uses_ssl else None,
    )
