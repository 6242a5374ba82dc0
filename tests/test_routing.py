"""The id's prefix picks the one configured provider of its dialect; anything else is explained."""

from tui.core.config import ProviderConfig
from tui.core.routing import route_ids


def providers(*specs: tuple[str, str]) -> dict[str, ProviderConfig]:
    return {
        name: ProviderConfig(name=name, kind=kind, base_url="https://example.invalid")
        for name, kind in specs
    }


def test_each_id_goes_to_the_one_provider_of_its_dialect():
    routing = route_ids(
        ["video_1", "asyntask_2", "task_3", "cgt-20260427191505-9j2q7"],
        providers(("kyy", "kyy"), ("anyfast", "newapi"), ("ark", "ark")),
    )
    assert routing.assigned == {
        "kyy": ["video_1"],
        "anyfast": ["asyntask_2", "task_3"],
        "ark": ["cgt-20260427191505-9j2q7"],
    }
    assert routing.unplaced == 0


def test_two_providers_of_one_dialect_is_ambiguous():
    routing = route_ids(["asyntask_2"], providers(("a", "newapi"), ("b", "newapi")))
    assert routing.assigned == {}
    assert routing.ambiguous == [("asyntask_2", ["a", "b"])]


def test_a_dialect_with_no_provider_and_an_unknown_prefix_are_told_apart():
    routing = route_ids(["video_1", "zzz_9"], providers(("anyfast", "newapi")))
    assert routing.unconfigured == [("video_1", ["kyy"])]
    assert routing.unknown_prefix == ["zzz_9"]
    assert routing.unplaced == 2
