"""The command line without a broker: check-config and preview."""

import json

from click.testing import CliRunner

from alertrelay.cli import main

BROKEN = """
apiVersion: 1
contactPoints:
  - name: ops-team
    receivers:
      - uid: hook-1
        type: webhook
        settings:
          url: http://x
          title: '{{ broken'
      - uid: hook-2
        type: webhook
        settings:
          maxAlerts: 3
"""

GOOD = """
apiVersion: 1
contactPoints:
  - name: ops-team
    receivers:
      - uid: hook-1
        type: webhook
        settings:
          url: http://hooks.local/{{ CommonLabels.team }}
          authorization_credentials: sekret-token
"""

EVENT = {"receiver": "ops-team", "alerts": [{"labels": {"alertname": "A", "team": "db"}, "startsAt": "2024-05-01T10:00:00Z"}]}


def test_check_config_names_file_contact_point_uid_and_field(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    result = CliRunner().invoke(main, ["check-config", str(path)])
    assert result.exit_code == 1
    assert f'error: {path}: contact point "ops-team", integration "hook-2" (webhook): settings.url: Field required' in result.output
    path.write_text(BROKEN.replace("maxAlerts: 3", "url: http://y"))
    result = CliRunner().invoke(main, ["check-config", "--config", str(path)])
    assert result.exit_code == 1
    assert f'error: {path}: contact point "ops-team", integration "hook-1" (webhook): settings.title: template syntax error' in result.output


def test_check_config_ok(tmp_path):
    path = tmp_path / "good.yaml"
    path.write_text(GOOD)
    result = CliRunner().invoke(main, ["check-config", str(path)])
    assert result.exit_code == 0, result.output
    assert "ok: 1 file(s), 1 contact point(s), 1 integration(s)" in result.output


def test_preview_prints_the_request_with_secrets_masked(tmp_path):
    config, event = tmp_path / "good.yaml", tmp_path / "event.json"
    config.write_text(GOOD)
    event.write_text(json.dumps(EVENT))
    args = ["preview", "--config", str(config), "--event", str(event), "--now", "2024-05-01T10:30:00Z"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    line = json.loads(result.output)
    assert (line["contact_point"], line["uid"], line["type"]) == ("ops-team", "hook-1", "webhook")
    assert line["request"]["method"] == "POST" and line["request"]["url"] == "http://hooks.local/db"
    assert line["request"]["headers"]["Authorization"] == "[REDACTED]"
    assert line["request"]["body"]["title"] == "[FIRING:1] A (db)"
    assert "sekret-token" not in result.output
    shown = CliRunner().invoke(main, [*args, "--show-secrets"])
    assert json.loads(shown.output)["request"]["headers"]["Authorization"] == "Bearer sekret-token"
