import pytest

from flash.errors import ConfigurationError
from flash.registry import Provider, Registry


def make():
    reg = Registry("backbones")

    @reg.register(name="resnet18", family="resnet")
    def resnet18(pretrained=False):
        return ("resnet18", pretrained)

    reg.add_provider(Provider("zoo", build=lambda k: (lambda: f"zoo-{k}"), list_keys=lambda: ["alpha", "beta"],
                              has=lambda k: k in ("alpha", "beta"), default=True))
    return reg


def test_register_get_and_metadata():
    reg = make()
    assert reg.get("resnet18")(pretrained=True) == ("resnet18", True)  # offline: a stub factory
    assert reg.metadata("resnet18") == {"family": "resnet"}
    assert "resnet18" in reg and "nope" not in reg


def test_duplicate_registration_raises_unless_override():
    reg = make()
    with pytest.raises(ConfigurationError, match="already registered"):
        reg.register(lambda: None, name="resnet18")
    reg.register(lambda: "new", name="resnet18", override=True)
    assert reg.get("resnet18")() == "new"


def test_unknown_name_suggests_close_match():
    reg = make()
    with pytest.raises(ConfigurationError, match="Did you mean 'resnet18'"):
        reg.get("resnet81")


def test_providers_prefixed_and_default():
    reg = make()
    assert reg.get("zoo:alpha")() == "zoo-alpha"
    assert reg.get("beta")() == "zoo-beta"
    with pytest.raises(ConfigurationError, match="zoo:alpha"):
        reg.get("zoo:alpah")


def test_available_keys_with_wildcards():
    reg = make()
    assert reg.available_keys() == ["resnet18", "zoo:alpha", "zoo:beta"]
    assert reg.available_keys("res*") == ["resnet18"]
    assert reg.available_keys("*eta") == ["zoo:beta"]


def test_temporarily_stands_in_and_restores_what_was_there():
    reg = make()
    with reg.temporarily("resnet18", lambda pretrained=False: "stand-in", family="tiny") as fn:
        assert reg.get("resnet18")() == "stand-in" == fn() and reg.metadata("resnet18") == {"family": "tiny"}
    assert reg.get("resnet18")(pretrained=True) == ("resnet18", True)
    assert reg.metadata("resnet18") == {"family": "resnet"}
    with pytest.raises(RuntimeError), reg.temporarily("alpha", lambda: "mine"):  # shadows the provider's alpha
        assert reg.get("alpha")() == "mine"
        raise RuntimeError("restored even when the block fails")
    assert reg.get("alpha")() == "zoo-alpha" and "alpha" not in [k for k in reg.available_keys() if ":" not in k]
