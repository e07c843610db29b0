import pytest

from ledger.rules import PACKS
from ledger.rules.base import article_order, chinese_number


@pytest.mark.parametrize(("text", "number"), [("一", 1), ("九", 9), ("十", 10), ("十二", 12), ("二十", 20), ("十八", 18), ("12", 12)])
def test_chinese_numbers(text, number):
    assert chinese_number(text) == number


def test_articles_sort_in_document_order():
    articles = ["第十二条（三）", "第二十条", "第十二条（二）", "第十五条", "第十二条（十）", "第二条"]
    assert sorted(articles, key=article_order) == ["第二条", "第十二条（二）", "第十二条（三）", "第十二条（十）", "第十五条", "第二十条"]


def test_every_rule_and_finding_cites_an_article_with_its_original_text():
    for pack in PACKS.values():
        for citation in [r.citation for r in pack.rules] + [f.citation for f in pack.findings.values()]:
            assert citation.short == pack.short
            assert citation.document == pack.document
            assert article_order(citation.article), citation
            assert len(citation.text) >= 4 and not citation.text.isascii(), citation
