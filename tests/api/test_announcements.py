"""The public announcements of removals (/v1/reports/{jurisdiction}/announcements).

An announcement only where the article names publication, in the article's own word: 天津 第十二条
"不再列入资源池，并向社会公示" (公示); 新乡 第十六条 "发布通告建议其他城市不选择其" (通告; 第十八条
退出服务商库 names none); 省指南 四（四） "将公开通报并取消服务资格" (通报; 四（一）清退 and 四（三）
清退出资源池 name none); 唐山 第十三条 "在局官网上予以公告" (公告); 柳州 第十四条 "向社会公示"
(公示) and 第十五条 "经核实后将公开通报" (通报). Signed on the day the ledger recorded the removal
(never before it knew it); a removal rescinded later stays in its period's archive, marked so."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.reports import announcement
from ledger.bootstrap import bootstrap
from ledger.clock import ManualClock
from ledger.commands import models as m
from ledger.settings import Settings
from tests.api.conftest import SETTINGS
from tests.integration.conftest import DECLARED_FROM, START
from tests.integration.scenario import Scenario

YEAR = {"effective_from": "2025-01-01", "effective_to": "2025-05-31"}


@pytest.fixture
def announced(database_url: str) -> Iterator[TestClient]:
    """Each a removal found on 2025-04-02 and recorded on 2025-04-10 (entered late), except TS-1's
    blacklisting (03-12, recorded that day, rescinded on appeal 05-10). Asked on 06-01."""
    clock = ManualClock(START)
    app = bootstrap(Settings(database_url=database_url), clock=clock)
    scenario = Scenario(app.ledger, clock)
    for jurisdiction, valid_from in DECLARED_FROM.items():
        app.ledger.execute(m.DeclareRulebookValidity(command_id=f"declare-{jurisdiction}", jurisdiction=jurisdiction, valid_from=valid_from, reference="test"))
    for provider_id, jurisdiction in (("TS-1", "tangshan"), ("TJ-1", "tianjin"), ("XX-1", "xinxiang"), ("XX-2", "xinxiang"), ("PV-1", "province"),
                                      ("PV-2", "province"), ("LZ-1", "liuzhou"), ("LZ-2", "liuzhou")):  # fmt: skip
        scenario.admit(provider_id, jurisdiction)
    scenario.on(date(2025, 3, 12))
    ratings = [scenario.unsatisfied("TS-1", f"E-{i}", on=date(2025, 3, day)) for i, day in ((1, 10), (2, 12))]
    scenario.on(date(2025, 4, 10))
    found = date(2025, 4, 2)
    for provider_id, article in (("TJ-1", "第十二条（五）"), ("XX-1", "第十八条"), ("XX-2", "第十六条（五）"), ("PV-1", "四（一）清退"),
                                 ("PV-2", "四（四）"), ("LZ-1", "第十四条（九）"), ("LZ-2", "第十五条")):  # fmt: skip
        scenario.finding(provider_id, article, on=found)
    scenario.on(date(2025, 5, 10))
    scenario.appeal("TS-1", "第十六条（二）", ratings[0].source)
    clock.set(date(2025, 6, 1))
    assert app.projections is not None
    app.projections.wait_for()
    with TestClient(create_app(app, SETTINGS), raise_server_exceptions=False) as client:
        yield client
    app.close()


def _items(client: TestClient, jurisdiction: str, **period: str) -> list[dict]:
    answer = client.get(f"/v1/reports/{jurisdiction}/announcements", params=period or YEAR)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


@pytest.mark.parametrize(
    "jurisdiction, expected",
    [
        ("tianjin", [("TJ-1", "天津 第十二条（五）", "公示")]),
        ("xinxiang", [("XX-2", "新乡 第十六条（五）", "通告")]),  # not XX-1's 第十八条 exit
        ("province", [("PV-2", "省指南 四（四）", "通报")]),  # not PV-1's 四（一）清退
        ("liuzhou", [("LZ-1", "柳州 第十四条（九）", "公示"), ("LZ-2", "柳州 第十五条", "通报")]),
        ("tangshan", [("TS-1", "唐山 第十三条（二）", "公告")]),
    ],
)
def test_announced_only_where_the_article_names_publication_in_its_own_word(announced, jurisdiction, expected):
    items = _items(announced, jurisdiction)
    assert [(i["provider_id"], i["article"], i["kind"]) for i in items] == expected
    for item in items:
        assert item["title"].endswith(f"的{item['kind']}")
        assert f"特此{item['kind']}。" in item["text"]


def test_signed_on_the_day_recorded_not_before_the_ledger_knew(announced):
    [item] = _items(announced, "tianjin")
    assert item["effective_on"] == "2025-04-02" and item["signed_on"] == "2025-04-10"
    assert "自2025年4月2日起" in item["text"]
    assert item["text"].rstrip().endswith("2025年4月10日")


def test_a_removal_rescinded_later_stays_in_its_periods_archive_marked_rescinded(announced):
    for period in ({"effective_from": "2025-03-01", "effective_to": "2025-03-31"}, YEAR):
        [item] = _items(announced, "tangshan", **period)
        assert (item["provider_id"], item["effective_on"], item["signed_on"]) == ("TS-1", "2025-03-12", "2025-03-12")
        assert item["rescinded_on"] == "2025-05-10"
        assert item["rescinded_by_appeal"].startswith("A-")
        assert "2025年5月10日" in item["rescission_note"] and item["rescinded_by_appeal"] in item["rescission_note"]
    assert _items(announced, "tangshan", effective_from="2025-03-13", effective_to="2025-05-31") == []


def test_an_announcement_in_force_carries_no_rescission(announced):
    [item] = _items(announced, "tianjin")
    assert item["rescinded_on"] is None and item["rescinded_by_appeal"] is None and item["rescission_note"] is None


def test_quotes_inside_the_cited_text_are_the_inner_kind():
    entry = {
        "provider_id": "TS-1", "provider_name": "某公司", "jurisdiction": "tangshan", "sanction": "blacklisting", "article": "唐山 第十三条（二）",
        "effective_on": "2025-03-12", "sanction_ref": "x/1", "document": "唐山办法", "signed_on": "2025-03-12",
        "citation_text": "试点企业对服务商满意度评价“不满意”次数达到 2 次",
    }  # fmt: skip
    text = announcement(entry).text
    assert "第十三条（二）“试点企业对服务商满意度评价‘不满意’次数达到 2 次”的规定" in text
    assert text.count("“") == text.count("”") == 1
