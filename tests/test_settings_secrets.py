"""Secrets come from SCIMHUB_<FIELD> or from the file SCIMHUB_<FIELD>_FILE names (ADR 0027)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scimhub.settings import Secret, Settings


def test_a_secret_is_read_from_the_file_its_file_variable_names(tmp_path: Path) -> None:
    """Docker and Kubernetes secrets are files: SCIMHUB_TOKEN_SALT_FILE names one; a final newline goes."""
    (tmp_path / "salt").write_text("a-salt-from-a-file\n")
    settings = Settings.from_environ({"SCIMHUB_TOKEN_SALT_FILE": str(tmp_path / "salt")})
    assert settings.token_salt == Secret("a-salt-from-a-file")


def test_every_secret_field_has_a_file_variable(tmp_path: Path) -> None:
    """The admin password and the DataHub token are secrets too, readable from files."""
    (tmp_path / "pw").write_text("correct horse battery staple")
    (tmp_path / "dh").write_text("datahub-token\r\n")
    settings = Settings.from_environ(
        {
            "SCIMHUB_ADMIN_PASSWORD_FILE": str(tmp_path / "pw"),
            "SCIMHUB_DATAHUB_TOKEN_FILE": str(tmp_path / "dh"),
        }
    )
    assert settings.admin_password == Secret("correct horse battery staple")
    assert settings.datahub_token == Secret("datahub-token")


def test_a_value_and_a_file_for_one_secret_are_refused(tmp_path: Path) -> None:
    """Two sources for one secret would leave the reader guessing which one serves."""
    (tmp_path / "key").write_text("k" * 40)
    environ = {"SCIMHUB_TOKEN_SIGNING_KEY": "x" * 40, "SCIMHUB_TOKEN_SIGNING_KEY_FILE": str(tmp_path / "key")}
    with pytest.raises(
        ValueError, match="set SCIMHUB_TOKEN_SIGNING_KEY or SCIMHUB_TOKEN_SIGNING_KEY_FILE, not both"
    ):
        Settings.from_environ(environ)


def test_a_missing_or_empty_secret_file_is_an_error_naming_it(tmp_path: Path) -> None:
    """A mistyped path must not silently fall back to a generated key."""
    missing = tmp_path / "nope"
    with pytest.raises(ValueError, match=f"SCIMHUB_TOKEN_SALT_FILE={missing} cannot be read: No such file"):
        Settings.from_environ({"SCIMHUB_TOKEN_SALT_FILE": str(missing)})
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ValueError, match="is empty"):
        Settings.from_environ({"SCIMHUB_TOKEN_SALT_FILE": str(tmp_path / "empty")})


def test_the_secret_read_from_a_file_does_not_print_itself(tmp_path: Path) -> None:
    """Read from a file or not, a secret stays wrapped: no repr shows it."""
    (tmp_path / "key").write_text("super-secret-signing-key-value-0123456789")
    settings = Settings.from_environ({"SCIMHUB_TOKEN_SIGNING_KEY_FILE": str(tmp_path / "key")})
    assert "super-secret" not in repr(settings)


def test_env_takes_development_or_production_only() -> None:
    """SCIMHUB_ENV defaults to development; a typo such as 'prod' is an error, not development."""
    assert Settings.from_environ({}).env == "development"
    assert Settings.from_environ({"SCIMHUB_ENV": "production"}).env == "production"
    with pytest.raises(ValueError, match="SCIMHUB_ENV must be one of development, production, not 'prod'"):
        Settings.from_environ({"SCIMHUB_ENV": "prod"})


@pytest.mark.parametrize(("raw", "seconds"), [("0.2", 0.2), ("30", 30.0), ("0", 0.0)])
def test_a_duration_in_seconds_may_be_a_fraction(raw: str, seconds: float) -> None:
    """``SCIMHUB_BULK_TIMEOUT_SECONDS`` is a float field: fractions of a second are read as such."""
    assert Settings.from_environ({"SCIMHUB_BULK_TIMEOUT_SECONDS": raw}).bulk_timeout_seconds == seconds


@pytest.mark.parametrize("raw", ["soon", "-1", "nan", "inf"])
def test_a_duration_that_is_no_finite_number_of_seconds_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="SCIMHUB_BULK_TIMEOUT_SECONDS"):
        Settings.from_environ({"SCIMHUB_BULK_TIMEOUT_SECONDS": raw})
