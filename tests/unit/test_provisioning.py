from pathlib import Path

import pytest

from contracts.provisioning import ConfigError, load_config

GOOD = """
apiVersion: 1
contactPoints:
  - orgId: 2
    name: ops-team
    receivers:
      - uid: hook-1
        type: Webhook
        disableResolveMessage: true
        settings:
          url: ${HOOK_URL}/x
          password: $HOOK_PASS
          username: bob
          maxAlerts: "5"
        secureSettings:
          hmacConfig.secret: s3cr3t
templates:
  - orgId: 1
    name: my_template
    template: '{{ define "my.title" }}x{{ end }}'
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_loads_grafana_file_with_env_and_secure_settings(tmp_path):
    config = load_config(write(tmp_path, "cp.yaml", GOOD), env={"HOOK_URL": "http://h", "HOOK_PASS": "pw"})
    integration = config.integration("ops-team", "hook-1")
    assert integration is not None and integration.type == "webhook" and integration.org_id == 2
    assert integration.disable_resolve_message
    assert integration.settings.url == "http://h/x"
    assert integration.settings.maxAlerts == 5
    assert integration.settings.hmacConfig.secret.get_secret_value() == "s3cr3t"
    assert sorted(integration.settings.secret_values()) == ["pw", "s3cr3t"]
    assert "pw" not in repr(integration.settings)
    assert config.templates == {"my_template": '{{ define "my.title" }}x{{ end }}'}


def test_folder_of_files_and_dollar_escape(tmp_path):
    write(tmp_path, "a.yaml", "apiVersion: 1\ncontactPoints:\n  - name: a\n    receivers:\n      - {uid: u1, type: webhook, settings: {url: 'http://x/$$HOME'}}\n")
    write(tmp_path, "b.yml", "apiVersion: 1\ncontactPoints:\n  - name: b\n    receivers: []\n")
    write(tmp_path, "notes.txt", "ignored")
    config = load_config(tmp_path, env={})
    assert set(config.contact_points) == {"a", "b"}
    assert config.integration("a", "u1").settings.url == "http://x/$HOME"


def test_every_error_names_file_contact_point_uid_and_field(tmp_path):
    bad = write(tmp_path, "bad.yaml", """
apiVersion: 1
contactPoints:
  - name: ops-team
    receivers:
      - uid: hook-1
        type: webhook
        settings:
          httpMethod: GET
      - uid: hook-2
        type: webhook
        settings:
          url: $MISSING_VAR
      - uid: hook-3
        type: carrier-pigeon
        settings: {url: x}
      - uid: hook-4
        type: webhook
        settings:
          url: http://x
          username: u
          password: p
          authorization_credentials: t
  - receivers: []
""")
    with pytest.raises(ConfigError) as err:
        load_config(bad, env={})
    errors = err.value.errors
    prefix = f'{bad}: contact point "ops-team", integration'
    assert f'{prefix} "hook-1" (webhook): settings.url: Field required' in errors
    assert any(e.startswith(f'{prefix} "hook-1" (webhook): settings.httpMethod:') for e in errors)
    assert f'{prefix} "hook-2" (webhook): settings: environment variable MISSING_VAR is not set' in errors
    assert any(e.startswith(f'{prefix} "hook-3" (carrier-pigeon): type: unknown integration type') for e in errors)
    assert any(e.startswith(f'{prefix} "hook-4" (webhook): settings: both HTTP basic authentication') for e in errors)
    assert f"{bad}: contactPoints[1]: name: no name is set" in errors


def test_duplicate_uid_and_missing_file(tmp_path):
    dup = write(tmp_path, "dup.yaml", "apiVersion: 1\ncontactPoints:\n  - name: a\n    receivers:\n"
                "      - {uid: u, type: webhook, settings: {url: 'http://x'}}\n      - {uid: u, type: webhook, settings: {url: 'http://y'}}\n")
    with pytest.raises(ConfigError, match='integration "u" \\(webhook\\): uid: used by another integration'):
        load_config(dup, env={})
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.yaml", env={})


def test_fallbacks_must_exist_and_never_cycle(tmp_path):
    path = write(tmp_path, "fb.yaml", """
apiVersion: 1
contactPoints:
  - name: a
    fallbackContactPoint: b
    receivers:
      - {uid: a1, type: webhook, settings: {url: 'http://x'}, fallbackContactPoint: c}
  - name: b
    fallbackContactPoint: a
    receivers: []
  - name: c
    receivers:
      - {uid: c1, type: webhook, settings: {url: 'http://x'}, fallbackContactPoint: nope}
""")
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert f'{path}: contact point "c", integration "c1": fallbackContactPoint: no contact point named ' + "'nope'" in err.value.errors
    assert f'{path}: contact point "a": fallbackContactPoint: fallbacks form a cycle: a → b → a' in err.value.errors
    path.write_text(path.read_text().replace("    fallbackContactPoint: a\n", "").replace("fallbackContactPoint: nope", "fallbackContactPoint: b"))
    config = load_config(path, env={})
    assert config.contact_points["a"].fallback_for("a1") == "c" and config.contact_points["c"].fallback_for("c1") == "b"
