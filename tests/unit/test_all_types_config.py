"""A Grafana provisioning file with all 22 types passes check-config; a missing required field is named."""

from __future__ import annotations

import copy
import json

import pytest
import trustme

from contracts.provisioning import ConfigError, load_config
from contracts.registry import REGISTRY
from tests import secret_markers as sm
from workers.delivery.templates import check_templates


@pytest.fixture(scope="module")
def generated() -> sm.Generated:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    context = {
        "base": "http://127.0.0.1:9", "tls_base": "https://127.0.0.1:9", "host": "127.0.0.1:9",
        "mqtt": "tcp://127.0.0.1:1883", "run": "r1", "ca_pem": ca.cert_pem.bytes().decode(),
        "cert_pem": cert.cert_chain_pems[0].bytes().decode(), "key_pem": cert.private_key_pem.bytes().decode(),
    }
    return sm.generate(context)


def test_a_file_with_every_type_passes(tmp_path, generated):
    path = tmp_path / "all.yaml"
    path.write_text(generated.text())
    config = load_config(path, env={})
    types = {i.type for p in config.contact_points.values() for i in p.integrations}
    assert types == set(REGISTRY)
    assert check_templates(config) == []


def required_cases(generated: sm.Generated) -> list[tuple[str, str, str]]:
    cases = []
    for receiver in generated.config["contactPoints"][0]["receivers"]:
        model = REGISTRY[receiver["type"]].settings
        for name, field in model.model_fields.items():
            key = field.alias or name
            if field.is_required() and key in receiver["settings"]:
                cases.append((receiver["uid"], receiver["type"], key))
    return cases


def test_each_missing_required_field_is_named(tmp_path, generated):
    cases = required_cases(generated)
    assert len({t for _, t, _ in cases}) >= 15, "most types have a required setting"
    for uid, type_name, key in cases:
        config = copy.deepcopy(generated.config)
        receiver = next(r for r in config["contactPoints"][0]["receivers"] if r["uid"] == uid)
        del receiver["settings"][key]
        receiver["settings"].setdefault("comment", "an unknown key, ignored as Grafana ignores it")
        path = tmp_path / f"{uid}-{key}.yaml"
        path.write_text(json.dumps(config))
        with pytest.raises(ConfigError) as err:
            load_config(path, env={})
        prefix = f'{path}: contact point "{sm.CONTACT_POINT}", integration "{uid}" ({type_name}): settings.{key}:'
        assert any(line.startswith(prefix) for line in err.value.errors), (uid, key, err.value.errors)
