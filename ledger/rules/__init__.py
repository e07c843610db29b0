"""Rule packs, one per rulebook in ``shared/seeds/``."""
from ledger.rules import liuzhou, province, tangshan, tianjin, xinxiang
from ledger.rules.base import RulePack

PACKS: dict[str, RulePack] = {
    pack.jurisdiction: pack
    for pack in (tianjin.PACK, xinxiang.PACK, province.PACK, tangshan.PACK, liuzhou.PACK)
}


def get_pack(jurisdiction: str) -> RulePack:
    try:
        return PACKS[jurisdiction]
    except KeyError:
        raise KeyError(f"unknown jurisdiction {jurisdiction!r}; known: {', '.join(PACKS)}") from None
