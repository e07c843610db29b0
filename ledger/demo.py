"""A deterministic two-year demo data set (2024-01 .. 2025-12), fed through the command layer.

``demo_plan(seed)`` generates, with a seeded ``random.Random``, what five bureaus'
pools of digital-transformation service providers would record over two years:
applications and admissions, pilot-enterprise projects from diagnosis to
payment, yearly grades, complaints, findings, rectification, appeals and exits.
Every command in the plan succeeds when the plan is run, in order, on an empty
ledger (``run_demo``): the generator keeps a shadow of each provider's standing
and only plans what the rulebooks allow at that date. The outcome contains every
kind of removal the five rulebooks know, and reinstatements after upheld appeals.

    from ledger.bootstrap import bootstrap
    from ledger.clock import ManualClock
    from ledger.demo import DEMO_START, demo_plan, registry_summary, run_demo
    from ledger.settings import Settings

    with bootstrap(Settings(database_url="sqlite:///demo.db"), clock=ManualClock(DEMO_START)) as app:
        summary = run_demo(app.ledger, demo_plan(seed=2024), progress=lambda done, total: ...)
        print(summary.commands, summary.events, summary.seconds, registry_summary(app.ledger))

Names of companies, enterprises and people, addresses, document references and
findings are invented; the rulebook references carry "（演示数据）".
"""
from __future__ import annotations

import hashlib
import json
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Union

from ledger import wire
from ledger.aggregates import Complaint, Project, Provider
from ledger.aggregates.project import ENTERPRISE_KINDS
from ledger.application import Ledger
from ledger.clock import BUREAU_TZ, ManualClock
from ledger.commands import models as m
from ledger.deadlines import sweep
from ledger.rules import PACKS, credit_code
from ledger.rules.base import BELOW_TARGET_LEVEL, FINDING, IMPLEMENTED_BEFORE_FILING
from ledger.standing import standing_label
from ledger.store.base import event_ref
from ledger.wire import decode_state

DEMO_START = date(2024, 1, 1)
DEMO_END = date(2025, 12, 31)
JURISDICTIONS = ("tianjin", "xinxiang", "province", "tangshan", "liuzhou")
#: the fewest providers a plan can have (one per jurisdiction)
MIN_PROVIDERS = 5
#: from this many providers on, every scripted outcome is in the plan (checked when it is generated)
FULL_OUTCOMES = 150


class DemoError(Exception):
    """A command of the demo plan could not be recorded (the plan and the domain disagree)."""


# --- lazy commands ---------------------------------------------------------------------------

Locator = tuple  # ("kind", arg, ...): how to find an event ref in the ledger at execution time


@dataclass(frozen=True)
class Deferred:
    """A command that names events (``aggregate-uuid/version``) looked up when it is executed.

    ``refs`` maps a field to a locator, or to a tuple of locators for a list field.
    Calling it with the ledger returns the command. Two Deferreds are equal when
    they would build the same command from the same ledger, so plans compare.
    """

    command: type[m.Command]
    fields: tuple[tuple[str, Any], ...]
    refs: tuple[tuple[str, Any], ...] = ()

    @property
    def command_id(self) -> str:
        return dict(self.fields)["command_id"]

    def __call__(self, ledger: Ledger) -> m.Command:
        values = dict(self.fields)
        for name, locator in self.refs:
            if locator and isinstance(locator[0], tuple):
                values[name] = [locate(ledger, each) for each in locator]
            else:
                values[name] = locate(ledger, locator)
        return self.command(**values)


@dataclass(frozen=True)
class DeadlineSweep:
    """The scheduler's monthly run: one ``RecordPassedDeadlines`` per provider with something due
    (:func:`ledger.deadlines.sweep`), command ids ``<command_id>:<provider id>``."""

    command_id: str


PlanEntry = tuple[datetime, Union[m.Command, Deferred, DeadlineSweep]]


def _sanction_citing(provider: Provider, fact_ref: str) -> str:
    found = [s["ref"] for s in provider.sanctions.values() if fact_ref in s["evidence"] and s["sanction"] in ("warning", "rectification_order")]
    if not found:
        raise LookupError(f"no warning or order of provider {provider.provider_id} cites {fact_ref}")
    return found[-1]


def locate(ledger: Ledger, locator: Locator) -> str:
    """The event ref a locator names, from the ledger's current state.

    - ``("rating", project_id, provider_id)``: the enterprise's rating of the provider;
    - ``("complaint", complaint_id)``: the complaint's latest event (its verification);
    - ``("profile_change", provider_id, field, changed_on)``: a recorded profile change;
    - ``("finding_sanction", provider_id, summary)``: the sanction a finding imposed;
    - ``("fact_sanction", provider_id, fact_kind, project_id)``: the warning or order
      derived from a fact about a project;
    - ``("rating_sanction", provider_id, project_id)``: the warning derived from a rating;
    - ``("rule_sanction", provider_id, rule_id)``: the latest sanction derived by a rule;
    - ``("removal", provider_id)``: the sanction that keeps the provider out of the pool.
    """
    kind, *args = locator
    if kind == "rating":
        project_id, provider_id = args
        return ledger.load(Project, project_id).ratings[provider_id]["ref"]
    if kind == "complaint":
        complaint = ledger.load(Complaint, args[0])
        return event_ref(complaint.id, complaint.version)
    provider = ledger.load(Provider, args[0])
    if kind == "profile_change":
        for change in provider.profile_changes:
            if change["field"] == args[1] and change["changed_on"].isoformat() == args[2]:
                return change["ref"]
    elif kind == "finding_sanction":
        for fact in provider.facts.values():
            if fact["kind"] == FINDING and fact["data"].get("summary") == args[1]:
                for sanction in provider.sanctions.values():
                    if sanction["key"] == f"finding@{fact['ref']}":
                        return sanction["ref"]
    elif kind == "fact_sanction":
        for fact in provider.facts.values():
            if fact["kind"] == args[1] and fact["data"].get("project_id") == args[2]:
                return _sanction_citing(provider, fact["ref"])
    elif kind == "rating_sanction":
        rating = ledger.load(Project, args[1]).ratings[args[0]]["ref"]
        fact = provider.find_fact_by_source(rating)  # type: ignore[assignment]
        if fact is not None:
            return _sanction_citing(provider, fact["ref"])
    elif kind == "rule_sanction":
        found = [s["ref"] for s in provider.sanctions.values() if s["rule_id"] == args[1] and s["rescinded_on"] is None]
        if found:
            return found[-1]
    elif kind == "removal":
        found = provider.active_removals()
        if found:
            return found[-1]["ref"]
    else:
        raise ValueError(f"unknown locator {locator!r}")
    raise LookupError(f"nothing in the ledger matches {locator!r}")


# --- what the generator draws from ----------------------------------------------------------


@dataclass(frozen=True)
class _Jurisdiction:
    code: str
    city: str  # "" for the unnamed province
    share: float  # of the providers
    kinds: tuple[tuple[str, float, bool | None], ...]  # kind, weight, leads projects (None: by draw)
    districts: tuple[str, ...]
    industries: tuple[str, ...]
    projects_per_provider: float
    bureau: str


CONFIG: dict[str, _Jurisdiction] = {
    "tianjin": _Jurisdiction(
        "TJ", "天津", 0.23,
        (("数字化解决方案服务商", 0.45, True), ("两化融合贯标咨询服务商", 0.15, True), ("工业互联网服务商", 0.22, False), ("云服务商", 0.18, False)),
        ("西青区", "滨海新区", "东丽区", "津南区", "北辰区", "南开区", "武清区", "宝坻区"),
        ("精密机械", "电子元器件", "新材料", "医疗器械", "自行车", "石油装备", "汽车零部件", "食品"),
        1.7, "天津市工业和信息化局",
    ),
    "xinxiang": _Jurisdiction(
        "XX", "新乡", 0.22, (("数字化服务商", 1.0, None),),
        ("红旗区", "牧野区", "卫滨区", "凤泉区", "新乡县", "长垣市", "平原示范区", "高新区"),
        ("起重机械", "电池材料", "振动机械", "化纤", "制冷设备", "汽车零部件", "生物医药", "食品"),
        2.6, "新乡市工业和信息化局",
    ),
    "province": _Jurisdiction(
        "PV", "", 0.19,
        (
            ("系统解决方案服务商", 0.30, True), ("工业互联网融合应用服务商", 0.20, True), ("智能装备服务商", 0.12, False),
            ("网络服务商", 0.10, False), ("标识服务商", 0.08, False), ("工业信息安全服务商", 0.10, False), ("生产性服务业供应商", 0.10, False),
        ),
        ("高新技术产业开发区", "经济技术开发区", "航空港区", "科技新城", "综合保税区", "软件园"),
        ("装备制造", "纺织服装", "有色金属", "食品加工", "电子信息", "新能源", "建材", "化工"),
        1.9, "省工业和信息化厅",
    ),
    "tangshan": _Jurisdiction(
        "TS", "唐山", 0.17, (("数字化服务商", 1.0, None),),
        ("路北区", "路南区", "丰润区", "曹妃甸区", "高新区", "迁安市", "遵化市", "开平区"),
        ("钢铁制品", "陶瓷", "装备制造", "焊接材料", "轨道交通装备", "化工", "建材", "机器人"),
        2.6, "唐山市工业和信息化局",
    ),
    "liuzhou": _Jurisdiction(
        "LZ", "柳州", 0.19, (("集成服务商", 0.4, True), ("产品服务商", 0.6, False)),
        ("柳北区", "柳南区", "鱼峰区", "城中区", "柳江区", "阳和工业新区", "柳东新区"),
        ("汽车零部件", "工程机械", "螺蛳粉食品", "钢结构", "电器", "塑料制品", "日化", "纺织"),
        2.8, "柳州市工业和信息化局",
    ),
}

VALIDITY = {
    "xinxiang": (date(2024, 1, 1), None, "新乡市工业和信息化局公告：管理办法自2024年1月1日起施行，有效期至城市试点工作通过国家验收（验收日期待定）（演示数据）"),
    "province": (date(2024, 1, 1), None, "省工业和信息化厅通知：申报指南及服务商管理要求自2024年1月1日起执行（演示数据）"),
    "tangshan": (date(2024, 1, 1), None, "唐山市工业和信息化局：管理规范于2024年1月1日印发实施，有效期至试点城市工作完成为止（演示数据）"),
    "liuzhou": (date(2024, 1, 1), None, "柳州市工业和信息化局：管理办法自2024年1月1日起施行，有效期至试点工作结束之日（演示数据）"),
}

OTHER_CITIES = ("北京", "上海", "深圳", "杭州", "郑州", "石家庄", "南宁", "武汉", "济南", "成都")
BRANDS = (
    "智联", "云图", "数创", "海川", "恒信", "博远", "鼎新", "华数", "瑞达", "汇智", "卓越", "精工", "天成", "启明", "易联",
    "星河", "弘毅", "北辰", "正元", "金桥", "云帆", "格致", "数衡", "联拓", "景行", "知微", "睿思", "明德", "同创", "泰和",
    "安捷", "普华", "新锐", "微澜", "远景", "坤元", "九章", "凌云", "沃土", "青禾",
)
ENTERPRISE_BRANDS = (
    "恒达", "金盛", "华瑞", "宏远", "永泰", "鑫源", "中宇", "润丰", "盛世", "东方", "长城", "银河", "万隆", "利民", "天宇",
    "豫丰", "冀东", "桂江", "龙腾", "凯旋", "伟业", "兴华", "信诚", "安泰", "华光", "明珠", "国泰", "嘉禾", "正大", "泓德",
    "佳美", "宝隆", "晨光", "康达", "腾飞", "瑞丰", "丰源", "顺达", "裕华", "宏图", "新希", "联众", "金鼎", "德润", "诚信",
)
TECH = {
    "数字化解决方案服务商": ("信息技术", "智能科技", "数字科技", "软件"),
    "两化融合贯标咨询服务商": ("管理咨询", "企业管理咨询", "信息化咨询"),
    "工业互联网服务商": ("工业互联网", "物联网科技", "智能制造技术"),
    "云服务商": ("云计算", "云科技", "数据服务"),
    "数字化服务商": ("信息技术", "数字科技", "软件", "智能科技", "网络科技", "自动化"),
    "系统解决方案服务商": ("信息技术", "系统集成", "智能科技"),
    "工业互联网融合应用服务商": ("工业互联网", "智能制造"),
    "智能装备服务商": ("智能装备", "自动化设备", "机器人"),
    "网络服务商": ("通信技术", "网络工程"),
    "标识服务商": ("标识解析", "物联科技"),
    "工业信息安全服务商": ("信息安全", "网络安全技术"),
    "生产性服务业供应商": ("供应链管理", "工业设计", "检验检测"),
    "集成服务商": ("信息技术", "系统集成", "智能科技", "数字科技"),
    "产品服务商": ("软件", "云科技", "物联网科技", "智能装备", "数据科技"),
}
SCOPES = (
    "软件开发；信息系统集成服务；信息技术咨询服务；数据处理和存储支持服务",
    "工业互联网数据服务；物联网技术服务；智能控制系统集成；工业自动控制系统装置销售",
    "云计算装备技术服务；互联网数据服务；软件销售；网络与信息安全软件开发",
    "企业管理咨询；信息技术咨询服务；技术服务、技术开发、技术咨询、技术交流、技术转让、技术推广",
    "智能机器人的研发；工业机器人安装、维修；智能仪器仪表制造；电子元器件与机电组件设备销售",
)
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = (
    "伟", "芳", "娜", "敏", "静", "磊", "军", "洋", "勇", "杰", "涛", "明", "超", "霞", "平", "刚", "斌", "鑫", "颖", "琳",
    "建华", "建国", "志强", "海燕", "晓东", "文博", "宇航", "浩然", "思远", "嘉怡", "子涵", "雨欣", "德胜", "振华", "立新",
    "建军", "卫东", "丽华", "秀英", "桂英", "玉兰", "春梅", "国强", "永刚", "海涛", "俊杰", "志刚", "红霞", "晓明", "宏伟",
    "丽娟", "新民", "庆丰", "学军", "金龙", "佳琪", "一鸣", "雅婷", "天翼", "梓轩",
)
#: 中小企业数字化水平评测指标（2024年版）: levels 一级 .. 四级 (0: not yet level 1)
LEVELS = ("未达一级", "一级", "二级", "三级", "四级")
ROADS = ("创新大道", "科技路", "兴业路", "工业园路", "纬二路", "经三路", "开发区东环路", "学府路", "长江路", "黄河大道", "人民路", "建设路")
CAPITALS = (100, 200, 300, 500, 500, 1000, 1000, 2000, 3000, 5000, 10000)
PROBLEMS = (
    "生产数据依赖人工填报，统计滞后", "关键设备联网率不足30%", "质量检验记录分散，追溯困难", "订单交期预测不准，计划频繁调整",
    "库存账实不符", "能耗数据缺乏计量与分析", "研发图纸与工艺文件未统一管理", "销售与生产信息不互通", "设备故障依赖事后维修",
)
SCENARIOS = (
    "设备联网与数据采集", "生产计划与排程", "质量管理与追溯", "仓储物流管理", "能耗监测与优化", "产品研发设计协同",
    "供应链协同", "安全生产监测", "设备预测性维护", "财务业务一体化",
)
SYSTEMS = ("MES制造执行系统", "ERP企业资源计划系统", "WMS仓储管理系统", "设备物联网平台", "QMS质量管理系统", "能源管理系统", "PLM产品生命周期管理系统", "SCADA数据采集系统")
COMPLAINT_SUBJECTS = (
    "驻场实施人员频繁更换，系统上线较合同约定延期两个月",
    "设备数据采集模块未按合同约定交付",
    "软件报价明显高于同类产品同期市场价格",
    "售后响应不及时，产线设备联网故障一周未处理",
    "捆绑销售自有云平台服务，未在采购清单中列明",
    "实施方案中的改造场景与实际交付内容不一致",
    "项目经理资质与投标承诺不符，团队配置不足",
)
EVIDENCE = ("服务合同扫描件", "往来邮件截图", "项目周报", "验收记录", "付款凭证", "现场照片", "微信工作群聊天记录")
OBJECTIONS = (
    ("申报材料所列三个案例项目中有两个尚未完成验收", False),
    ("申报单位近三年存在合同纠纷，建议复核", False),
    ("申报的软件著作权与实际产品不一致", False),
    ("申报材料中的案例项目系其他企业实施，存在弄虚作假", True),
)


#: 行政区划代码 of the registering authority, per jurisdiction (the province's guide names no province)
DIVISIONS = {"tianjin": "120116", "xinxiang": "410700", "province": "130100", "tangshan": "130200", "liuzhou": "450200"}


def _credit_code(j: str, pid: str) -> str:
    """A 统一社会信用代码 with a valid check character (an enterprise registered with market
    regulation, 91…; a 2015+ identification code, MA…), derived from the provider id."""
    digest = hashlib.sha256(pid.encode()).digest()
    return credit_code.complete("91" + DIVISIONS[j] + "MA" + "".join(credit_code.ALPHABET[b % 31] for b in digest[:7]))


def _money(value: float) -> Decimal:
    return Decimal(str(round(value, -2))).quantize(Decimal("0.01"))


# --- the shadow of the ledger the generator keeps ----------------------------------------------


@dataclass
class _Prov:
    pid: str
    j: str
    kind: str
    name: str
    lead: bool
    weight: float
    round: int
    admitted: date | None = None  # the day the admission is recorded
    role: str = "good"
    reg_until: date = DEMO_END  # last day a new project may name it
    out: date | None = None  # from this day on it is out of the pool (conservatively)
    back: date | None = None  # reinstated on this day
    quota: int = 0  # projects it must serve (roles whose outcome comes from ratings)
    quota_until: date = DEMO_END
    warnings: int = 0
    orders: int = 0
    unsat: int = 0
    unsat_ents: list[str] = field(default_factory=list)
    verified: int = 0
    unqualified: list[int] = field(default_factory=list)
    projects: list[str] = field(default_factory=list)
    ratings: list[tuple[date, str, str]] = field(default_factory=list)  # effective day, rating, enterprise
    rating_log: list[tuple[date, str, str]] = field(default_factory=list)  # recorded day, rating, project

    @property
    def good(self) -> bool:
        return self.role == "good"

    def in_pool(self, day: date) -> bool:
        if self.admitted is None or day <= self.admitted:
            return False
        if self.out is not None and day >= self.out:
            return self.back is not None and day > self.back
        return True

    def can_serve(self, day: date) -> bool:
        return self.in_pool(day) and day <= self.reg_until

    def may_take(self, what: str) -> bool:
        """Whether a provider with no scripted outcome can take one more negative fact and stay clear of every threshold."""
        if not self.good:
            return False
        if what == "warning":  # 新乡 第十六条（一）: two warnings disqualify
            return self.warnings < 1
        if what == "order":  # 唐山 第十三条（一）/ 柳州 第十四条（四）: a third order removes
            return self.orders < 2
        if what == "verified":  # 天津 第十二条（四）: a third verified complaint removes
            return self.verified < 2
        raise ValueError(what)


@dataclass
class _Proj:
    pid: str
    j: str
    enterprise_id: str
    enterprise_name: str
    registered: date
    providers: list[str]  # lead first
    cost: Decimal = Decimal(0)
    started: date | None = None
    passed_on: date | None = None  # the day a passing acceptance is recorded
    failed_finally: date | None = None


@dataclass
class _Item:
    day: date
    priority: int
    seq: int
    command: type[m.Command]
    fields: dict[str, Any]
    refs: dict[str, Any]


class _Builder:
    """Plans the demo in passes, keeping a shadow of each provider's standing.

    Most providers stay in good standing: each negative fact about them (a warning,
    an order, a 不满意 rating, a verified complaint) is planned only while it keeps
    them below every threshold of their rulebook, and every warning or order is
    rectified before its deadline. A few first-round providers get a scripted
    outcome (``ROLES``): the facts that remove them, on fixed days or from their
    ratings, and what follows (appeals, fees withheld). Commands that need the
    provider in the pool are planned only on days the shadow says it is.
    """

    def __init__(self, seed: int, providers: int) -> None:
        if providers < MIN_PROVIDERS:
            raise ValueError(f"the demo needs at least {MIN_PROVIDERS} providers, not {providers}")
        self.seed = seed
        self.full = providers >= FULL_OUTCOMES
        self.rng = random.Random(seed)
        self.target = providers
        self.items: list[_Item] = []
        self.provs: dict[str, _Prov] = {}
        self.projects: dict[str, _Proj] = {}
        self.names: set[str] = set()
        self.serial: Counter[str] = Counter()
        self.rating_slots: list[tuple[date, int, str, str, bool]] = []  # day, seq, project, provider, accepted
        self.finding_no: Counter[str] = Counter()

    # --- recording the plan ----------------------------------------------------------------------

    def add(self, day: date, command: type[m.Command], *, priority: int = 1, refs: dict[str, Any] | None = None, **fields: Any) -> bool:
        """Plan a command on a day; False (and nothing planned) past the end of the demo."""
        if day > DEMO_END:
            return False
        if day < DEMO_START:
            raise RuntimeError(f"demo generator: {command.__name__} planned on {day}, before {DEMO_START}")
        self.items.append(_Item(day, priority, len(self.items), command, fields, refs or {}))
        return True

    def next_id(self, kind: str) -> int:
        self.serial[kind] += 1
        return self.serial[kind]

    def plan(self) -> list[PlanEntry]:
        items = sorted(self.items, key=lambda i: (i.day, i.priority, i.seq))
        per_day = Counter(i.day for i in items)
        seen_on: Counter[date] = Counter()
        out: list[PlanEntry] = []
        for n, item in enumerate(items, 1):
            k = seen_on[item.day]
            seen_on[item.day] += 1
            seconds = 8 * 3600 + 30 * 60 + (k * 10 * 3600) // per_day[item.day]  # spread over 08:30 .. 18:30
            when = datetime(item.day.year, item.day.month, item.day.day, tzinfo=BUREAU_TZ) + timedelta(seconds=seconds)
            fields = dict(item.fields, command_id=f"demo{self.seed}-{n:05d}")
            if item.command is m.RecordPassedDeadlines:
                entry: m.Command | Deferred | DeadlineSweep = DeadlineSweep(fields["command_id"])
            elif item.refs:
                entry = Deferred(item.command, tuple(fields.items()), tuple(item.refs.items()))
            else:
                entry = item.command(**fields)
            out.append((when, entry))
        return out

    # --- drawing ---------------------------------------------------------------------------------

    def days(self, day: date, low: int, high: int) -> date:
        return day + timedelta(days=self.rng.randint(low, high))

    def between(self, start: date, end: date) -> date:
        return start + timedelta(days=self.rng.randint(0, max(0, (end - start).days)))

    def person(self) -> str:
        return self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)

    def address(self, j: str) -> str:
        cfg = CONFIG[j]
        city = f"{cfg.city}市" if cfg.city else ""
        return f"{city}{self.rng.choice(cfg.districts)}{self.rng.choice(ROADS)}{self.rng.randint(1, 399)}号"

    def unique(self, make: Callable[[], str]) -> str:
        for _ in range(1000):
            name = make()
            if name not in self.names:
                self.names.add(name)
                return name
        raise RuntimeError("ran out of names")

    def provider_name(self, j: str, kind: str) -> str:
        cfg = CONFIG[j]

        def make() -> str:
            if cfg.city and self.rng.random() < 0.82:
                prefix = cfg.city
            elif self.rng.random() < 0.5:
                prefix = self.rng.choice(OTHER_CITIES)
            else:
                prefix = ""
            suffix = "股份有限公司" if self.rng.random() < 0.15 else "有限公司"
            return f"{prefix}{self.rng.choice(BRANDS)}{self.rng.choice(TECH[kind])}{suffix}"

        return self.unique(make)

    def enterprise_name(self, j: str) -> str:
        cfg = CONFIG[j]

        def make() -> str:
            prefix = cfg.city if cfg.city else ""
            suffix = "股份有限公司" if self.rng.random() < 0.2 else "有限公司"
            return f"{prefix}{self.rng.choice(ENTERPRISE_BRANDS)}{self.rng.choice(cfg.industries)}{suffix}"

        return self.unique(make)

    def of(self, j: str, where: Callable[[_Prov], bool] = lambda p: True) -> list[_Prov]:
        return [p for p in self.provs.values() if p.j == j and where(p)]

    def pick(self, candidates: Sequence[_Prov]) -> _Prov:
        return self.rng.choices(list(candidates), weights=[p.weight for p in candidates])[0]

    def dated_id(self, j: str, letter: str, day: date) -> str:
        """Ids of complaints and appeals: code, letter, day filed, and a number within the day."""
        stem = f"{CONFIG[j].code}-{letter}{day:%Y%m%d}"
        return f"{stem}-{self.next_id(stem)}"

    def summary_no(self, j: str, year: int) -> str:
        self.finding_no[f"{j}{year}"] += 1
        return f"检查记录 {CONFIG[j].code}-{year}-{self.finding_no[f'{j}{year}']:03d}"

    # --- 1. rulebooks ----------------------------------------------------------------------------

    def rulebooks(self) -> None:
        day = date(2024, 1, 2)
        for j, (start, until, reference) in VALIDITY.items():
            self.add(day, m.DeclareRulebookValidity, priority=0, jurisdiction=j, valid_from=start, valid_until=until, reference=reference)
        self.add(
            day, m.SetRulebookParameters, priority=0, jurisdiction="xinxiang",
            params={"warning_rectification_days": 30, "report_answer_days": 15},
            reference="新乡市工业和信息化局：警告整改期限30日、举报回复期限15日（演示数据）",
        )  # fmt: skip

    # --- 2. providers ----------------------------------------------------------------------------

    def providers(self) -> None:
        counts = {j: int(round(self.target * CONFIG[j].share)) for j in JURISDICTIONS}
        counts["tianjin"] += self.target - sum(counts.values())
        for j in JURISDICTIONS:
            n = counts[j]
            second = int(round(n * 0.15))
            extras = {"tianjin": ("objection", "lapse"), "xinxiang": ("objection", "refuse"), "province": ("refuse", "lapse"), "tangshan": ("refuse",), "liuzhou": ("lapse", "refuse")}[j]
            applicants = [(1, None)] * (n - second) + [(2, None)] * second
            for k, extra in enumerate(extras):
                applicants.insert(3 + 5 * k, (1, extra))  # type: ignore[arg-type]
            self._select(j, applicants)  # type: ignore[arg-type]

    def _kind(self, j: str) -> tuple[str, bool]:
        kinds = CONFIG[j].kinds
        kind, _, lead = self.rng.choices(kinds, weights=[k[1] for k in kinds])[0]
        return kind, (self.rng.random() < 0.55 if lead is None else lead)

    def _select(self, j: str, applicants: list[tuple[int, str | None]]) -> None:
        cfg = CONFIG[j]
        notice = j in ("tianjin", "xinxiang")
        # one call for applications a year (天津 第九条); admissions are announced in batches
        calls = {1: (date(2024, 1, 8), date(2024, 2, 16)), 2: (date(2025, 1, 6), date(2025, 2, 14))}
        batches = {
            1: {"tianjin": date(2024, 2, 26), "xinxiang": date(2024, 3, 4), "province": date(2024, 3, 1), "tangshan": date(2024, 2, 28), "liuzhou": date(2024, 3, 6)}[j],
            2: {"tianjin": date(2025, 3, 3), "xinxiang": date(2025, 3, 10), "province": date(2025, 3, 7), "tangshan": date(2025, 3, 5), "liuzhou": date(2025, 3, 12)}[j],
        }
        objections = 0
        for round_, extra in applicants:
            year = 2024 if round_ == 1 else 2025
            pid = f"{cfg.code}-{year}-{self.next_id(cfg.code + str(year)):03d}"
            kind, lead = self._kind(j)
            name = self.provider_name(j, kind)
            applied = self.between(*calls[round_])
            eligibility: dict[str, bool | int] = {  # type: ignore[assignment]
                "tianjin": {"law_violations_last_3_years": False, "unfair_competition_last_3_years": False, "serious_dishonesty_list": False},
                "xinxiang": {"abnormal_operation_list": False, "serious_dishonesty_list": False, "major_safety_accident": False, "tax_evasion": False},
                "province": {"registered_on_platform": True},
                "tangshan": {"serious_dishonesty_list": False, "registered_in_tangshan": True},
                "liuzhou": {"serious_dishonesty_list": False, "local_service_team": True},
            }[j]
            if kind == "智能装备服务商":
                eligibility = dict(eligibility, enterprises_in_province=self.rng.randint(3, 14))
            profile = {
                "address": self.address(j),
                "legal_representative": self.person(),
                "business_scope": self.rng.choice(SCOPES),
                "registered_capital": f"{self.rng.choice(CAPITALS)}万元人民币",
            }
            self.add(applied, m.SubmitApplication, provider_id=pid, jurisdiction=j, name=name, credit_code=_credit_code(j, pid),
                     kind=kind, profile=profile, eligibility=eligibility)  # fmt: skip
            batch = batches[round_]
            if extra == "lapse":
                self.add(self.days(batch, -5, -1), m.LapseApplication, provider_id=pid, reason="未在规定期限内补正申报材料")
                continue
            if extra == "refuse":
                reason = "县（市、区）审查未予推荐" if j == "xinxiang" else "专家评审未通过：案例项目与申报方向不符"
                self.add(self.days(batch, -6, -2), m.RefuseAdmission, provider_id=pid, reason=reason)
                continue
            if notice:
                opened = batch
                last_day = self.days(opened, 6 if j == "tianjin" else 4, 9)  # 天津 第十条: at least 7 days, inclusive
                self.add(opened, m.OpenPublicNotice, provider_id=pid)
                raise_objection = extra == "objection" or (round_ == 1 and self.rng.random() < 0.06 and objections < 4)
                if raise_objection:
                    objections += 1
                    grounds, stands = OBJECTIONS[3] if extra == "objection" else self.rng.choice(OBJECTIONS[:3])
                    oid = f"{pid}-O1"
                    raised = self.days(opened, 1, 3)
                    self.add(raised, m.RaiseObjection, provider_id=pid, objection_id=oid, raised_by=self.enterprise_name(j), grounds=grounds)
                    self.add(
                        self.days(raised, 1, max(1, (last_day - raised).days)), m.ResolveObjection, provider_id=pid, objection_id=oid, stands=stands,
                        reasons="经核实，异议事项属实" if stands else "经核实，相关项目已完成验收，异议不成立",
                    )  # fmt: skip
                admitted = self.days(last_day, 1, 2)
                self.add(admitted, m.ClosePublicNotice, provider_id=pid, last_day=last_day)
                if extra == "objection":
                    continue
            else:
                admitted = self.days(batch, 0, 3)
                self.add(admitted, m.AdmitProvider, provider_id=pid)
            self.provs[pid] = _Prov(pid, j, kind, name, lead, self.rng.lognormvariate(0, 0.6), round_, admitted)

    # --- 3. scripted outcomes --------------------------------------------------------------------

    ROLES = {
        "tianjin": ("tj_grade_2024", "tj_grade_2024", "tj_grade_2024", "tj_grade_2025", "tj_grade_2025", "tj_complaints", "tj_complaints", "tj_fraud", "tj_exit", "tj_exit"),
        "xinxiang": ("xx_unsat2_appeal", "xx_unsat2", "xx_mix", "xx_unanswered", "xx_unanswered", "xx_refused", "xx_fraud", "xx_exit"),
        "province": ("pv_unq2", "pv_unq2", "pv_unq2", "pv_overdue", "pv_fraud", "pv_clear", "pv_exit"),
        "tangshan": ("ts_unsat2_appeal", "ts_unsat2", "ts_orders3_appeal", "ts_orders3_dismissed", "ts_refused", "ts_leak", "ts_exit"),
        "liuzhou": ("lz_gray11", "lz_unsat6", "lz_orders3", "lz_overdue", "lz_fake", "lz_report", "lz_exit"),
    }
    #: roles whose outcome comes from ratings: they serve projects as product providers
    RATED = {"xx_unsat2_appeal": 4, "xx_unsat2": 4, "ts_unsat2_appeal": 3, "ts_unsat2": 3, "lz_gray11": 13, "lz_unsat6": 9}

    def roles(self) -> None:
        """Give some first-round providers a scripted outcome, with the days it unfolds on."""
        self.fates: defaultdict[str, list[_Prov]] = defaultdict(list)
        self.script: dict[str, dict[str, Any]] = {}
        for j, roles in self.ROLES.items():
            first = self.of(j, lambda p: p.round == 1)
            free = list(first)
            spare = len(first) // 2  # at least half of them stay in good standing (small plans have fewer outcomes)
            for role in roles:
                candidates = [p for p in free if not p.lead] if role in self.RATED else free
                if spare == 0 or not candidates:
                    continue
                p = self.rng.choice(candidates)
                free.remove(p)
                spare -= 1
                p.role = role
                self.fates[role].append(p)
        if self.full:
            missing = [role for roles in self.ROLES.values() for role in dict.fromkeys(roles) if len(self.fates[role]) < roles.count(role)]
            if missing:
                raise RuntimeError(f"demo generator: no provider for {', '.join(missing)}")
        for role, quota in self.RATED.items():
            for p in self.fates[role]:
                p.quota = quota
                if role == "lz_unsat6":
                    p.quota_until = date(2025, 2, 28)
                else:  # every rating of theirs comes after their last registration
                    p.reg_until = p.quota_until = date(2024, 10, 31) if role == "lz_gray11" else date(2024, 9, 30)
        J, D = self.days, timedelta
        starts = {
            "tj_grade_2024": [date(2025, 1, 13)] * 3, "tj_grade_2025": [date(2025, 12, 8)] * 2,
            "tj_complaints": [date(2024, 11, 8), date(2025, 6, 5)], "tj_fraud": [date(2025, 3, 12)],
            "tj_exit": [date(2025, 4, 10), date(2025, 9, 8)],
            "xx_mix": [date(2024, 12, 12)], "xx_unanswered": [date(2024, 10, 8), date(2025, 4, 14)],
            "xx_refused": [date(2025, 3, 10)], "xx_fraud": [date(2025, 7, 7)], "xx_exit": [date(2025, 5, 19)],
            "pv_unq2": [date(2025, 12, 8)] * 3, "pv_overdue": [date(2025, 3, 10)], "pv_fraud": [date(2025, 2, 17)],
            "pv_clear": [date(2024, 9, 9)], "pv_exit": [date(2025, 6, 16)],
            "ts_orders3_appeal": [date(2024, 7, 15)], "ts_orders3_dismissed": [date(2024, 8, 12)],
            "ts_refused": [date(2025, 2, 17)], "ts_leak": [date(2025, 8, 11)], "ts_exit": [date(2025, 7, 1)],
            "lz_orders3": [date(2024, 6, 17)], "lz_overdue": [date(2025, 4, 14)], "lz_fake": [date(2025, 6, 9)],
            "lz_report": [date(2025, 8, 4)], "lz_exit": [date(2025, 10, 13)],
        }  # fmt: skip
        for role, days in starts.items():
            for p, start in zip(self.fates[role], days):
                d = J(start, 0, 8)
                sc: dict[str, Any] = {"start": d}
                if role in ("tj_grade_2024", "tj_grade_2025", "pv_unq2"):
                    out = d  # the day of the grade or evaluation that removes it
                elif role in ("ts_orders3_appeal", "ts_orders3_dismissed", "lz_orders3"):
                    sc["findings"] = [d, J(d, 110, 130), J(d, 230, 250)]
                    out = sc["findings"][-1]
                elif role == "xx_unanswered":  # 新乡 第十八条: asked to answer a report, never does
                    sc["request"] = d + D(days=2)
                    sc["deadline"] = sc["request"] + D(days=15)
                    out = sc["deadline"] + D(days=1)
                elif role == "pv_overdue":
                    sc["verify"], sc["finding"] = d + D(days=30), d + D(days=36)
                    out = sc["finding"] + D(days=31)
                elif role == "pv_clear":
                    sc["verify"], sc["finding"] = d + D(days=35), d + D(days=42)
                    out = sc["finding"]
                elif role == "lz_report":
                    sc["verify"], sc["finding"] = d + D(days=25), d + D(days=32)
                    out = sc["finding"]
                elif role == "lz_overdue":
                    out = d + D(days=21)
                elif role in ("ts_refused", "xx_refused"):
                    sc["refusal"] = d + D(days=7)
                    out = d
                elif role == "tj_complaints":
                    out = d  # the third verified complaint
                else:
                    out = d
                p.out = out
                p.reg_until = min(p.reg_until, out - D(days=21))
                self.script[p.pid] = sc

    # --- 4. projects -----------------------------------------------------------------------------

    def projects_all(self) -> None:
        for j in JURISDICTIONS:
            cfg = CONFIG[j]
            n = int(round(len(self.of(j)) * cfg.projects_per_provider))
            first = date(2024, 4, 1) if j != "xinxiang" else date(2024, 4, 8)
            days = sorted(self.between(first, date(2025, 8, 31)) for _ in range(n))
            for day in days:
                self.project(j, day)
        for role, quota in self.RATED.items():
            for p in self.fates[role]:
                if self.full and len(p.projects) < quota:
                    raise RuntimeError(f"demo generator: {p.pid} ({role}) serves {len(p.projects)} projects, needs {quota}")

    def project(self, j: str, day: date) -> None:
        cfg = CONFIG[j]
        available = self.of(j, lambda p: p.can_serve(day))
        leads = [p for p in available if p.lead]
        products = [p for p in available if not p.lead]
        if not leads:
            return
        needy = [p for p in products if p.quota and len(p.projects) < p.quota and day <= p.quota_until]
        chosen: list[_Prov] = []
        if not (j == "liuzhou" and self.rng.random() < 0.08):  # 柳州 第九条: a product provider may lead where no integrator takes part
            chosen.append(self.pick(leads))
        want = self.rng.choices((0, 1, 2), weights=(3, 5, 2))[0] if chosen else 1
        for p in needy:
            if self.rng.random() < 0.6 and len(chosen) < 3:
                chosen.append(p)
        others = [p for p in products if p not in chosen and not p.quota]
        while others and sum(1 for p in chosen if not p.lead) < want:
            p = self.pick(others)
            others.remove(p)
            chosen.append(p)
        if not chosen:
            return
        pid = f"{cfg.code}-P{day.year}-{self.next_id(cfg.code + 'P' + str(day.year)):04d}"
        eid = f"{cfg.code}-E{self.next_id(cfg.code + 'E'):04d}"
        ename = self.enterprise_name(j)
        ekind = self.rng.choices(ENTERPRISE_KINDS, weights=(50, 15, 3, 12, 10, 10))[0]
        lead = chosen[0]
        project = _Proj(pid, j, eid, ename, day, [p.pid for p in chosen])
        self.projects[pid] = project
        for p in chosen:
            p.projects.append(pid)
        integrated = lead.pid if lead.lead else None
        product_ids = [p.pid for p in chosen if p.pid != integrated]
        self.add(day, m.RegisterProject, project_id=pid, jurisdiction=j, enterprise_id=eid, enterprise_name=ename, enterprise_kind=ekind,
                 integrated_provider_id=integrated, product_provider_ids=product_ids)  # fmt: skip
        self.lifecycle(project, lead)

    def lifecycle(self, project: _Proj, lead: _Prov) -> None:
        rng, j, pid = self.rng, project.j, project.pid
        level_before = rng.choices((0, 1, 2, 3), weights=(1, 6, 4, 1))[0]
        scenarios = rng.sample(SCENARIOS, rng.randint(2, 4))
        diag = self.days(project.registered, 10, 30)
        ok = self.add(diag, m.RecordDiagnosis, project_id=pid, level_before=level_before,
                      report=f"{project.enterprise_name}数字化水平诊断报告：现状为{LEVELS[level_before]}，建议优先改造{scenarios[0]}",
                      problems=rng.sample(PROBLEMS, rng.randint(2, 4)), scenarios=scenarios)  # fmt: skip
        if not ok:
            return
        cost = _money(rng.uniform(200_000, 2_400_000))
        systems = "、".join(rng.sample(SYSTEMS, rng.randint(1, 3)))

        def filing(day: date, cost: Decimal, note: str = "") -> bool:
            end = day + timedelta(days=rng.randint(120, 240))
            return self.add(
                day, m.SubmitFiling, project_id=pid, content=f"部署{systems}，覆盖{'、'.join(scenarios)}{note}", cost=cost,
                expected_effect=f"数字化水平由{LEVELS[level_before]}提升至{LEVELS[min(4, max(2, level_before + 1))]}，生产效率提升{rng.randint(8, 30)}%",
                schedule=f"{day:%Y年%m月}至{end:%Y年%m月}",
            )  # fmt: skip

        submitted = self.days(diag, 10, 25)
        if not filing(submitted, cost):
            return
        early = j == "xinxiang" and lead.may_take("warning") and rng.random() < 0.05
        if early:  # 新乡 第十五条（四）: implementation started before the filing was approved
            lead.warnings += 1
            start = self.days(submitted, 2, 6)
            if not self.add(start, m.StartImplementation, project_id=pid):
                return
            self.complete(lead, self.days(start, 7, 20), ("fact_sanction", lead.pid, IMPLEMENTED_BEFORE_FILING, pid))
            decided = self.days(start, 4, 12)
            if not self.add(decided, m.DecideFiling, project_id=pid, approved=True, reasons="专家评审通过；已提醒服务商先备案后实施"):
                return
        else:
            decided = self.days(submitted, 7, 20)
            if rng.random() < 0.08:
                if not self.add(decided, m.DecideFiling, project_id=pid, approved=False, reasons="实施方案费用测算依据不足，请补充后重新报备"):
                    return
                cost = _money(float(cost) * rng.uniform(0.8, 0.95))
                if not filing(self.days(decided, 10, 25), cost, "（修改稿）"):
                    return
                decided = self.days(decided, 25, 40)
            if not self.add(decided, m.DecideFiling, project_id=pid, approved=True, reasons="专家评审通过"):
                return
            start = self.days(decided, 3, 15)
            if not self.add(start, m.StartImplementation, project_id=pid):
                return
        project.started = start
        project.cost = cost
        last = start
        if rng.random() < 0.1:  # 新乡 第十二条（三）: a major change is filed again before work goes on
            changed = self.days(start, 30, 60)
            extra = _money(float(cost) * rng.uniform(0.1, 0.35))
            removed = rng.random() < 0.3
            ok = self.add(changed, m.RecordMajorChange, project_id=pid,
                          description="取消一个改造场景" if removed else f"新增{rng.choice(SCENARIOS)}模块，投资增加{extra}元",
                          investment_increase=None if removed else extra, scenarios_removed=1 if removed else 0)  # fmt: skip
            if not ok or not filing(self.days(changed, 5, 12), cost if removed else cost + extra, "（重大变更重新报备）"):
                return
            if not removed:
                cost = cost + extra
            last = self.days(changed, 15, 25)
            if not self.add(last, m.DecideFiling, project_id=pid, approved=True, reasons="重大变更经专家评审同意"):
                return
        project.cost = cost
        accepted = max(self.days(start, 90, 180), self.days(last, 20, 40))
        for attempt in (1, 2):
            fail = rng.random() < (0.15 if j == "tangshan" else 0.1)
            level_after, below = None, False
            if not fail:
                level_after = min(4, max(2 if j in ("tangshan", "liuzhou") else 1, level_before + rng.choice((1, 1, 1, 2))))
                if j == "liuzhou" and level_before <= 1 and lead.may_take("order") and rng.random() < 0.22:
                    level_after, below = 1, True  # 柳州 第十二条（四）: below level 2 after the project
            late = rng.random() < 0.08
            recorded = self.days(accepted, 5, 12) if late else accepted
            ok = self.add(recorded, m.RecordAcceptance, project_id=pid, passed=not fail, level_after=level_after,
                          effective_on=accepted if late else None)  # fmt: skip
            if not ok:
                return
            if below:
                lead.orders += 1
                self.complete(lead, self.days(recorded, 7, 20), ("fact_sanction", lead.pid, BELOW_TARGET_LEVEL, pid))
            if not fail:
                project.passed_on = recorded
                break
            if attempt == 2 or rng.random() < 0.15:
                project.failed_finally = recorded
                break
            accepted = self.days(recorded, 45, 90)  # 新乡 第十二条（四）: rectify, then the next acceptance batch
        done = project.passed_on or project.failed_finally
        for provider_id in project.providers:
            self.rating_slots.append((self.days(done, 5, 20), len(self.rating_slots), pid, provider_id, project.passed_on is not None))  # type: ignore[arg-type]

    def complete(self, p: _Prov, day: date, locator: Locator) -> None:
        self.add(day, m.CompleteRectification, provider_id=p.pid, refs={"sanction_ref": locator})

    # --- 5. satisfaction ---------------------------------------------------------------------------

    def ratings(self) -> None:
        rng = self.rng
        unsat_count: Counter[str] = Counter()
        for day, _, project_id, provider_id, accepted in sorted(self.rating_slots):
            if day > DEMO_END:
                continue
            p, project = self.provs[provider_id], self.projects[project_id]
            ent = project.enterprise_id
            draw = rng.random()
            rating = "满意" if draw < 0.62 else "基本满意" if draw < 0.92 else "不满意"
            role, j = p.role, p.j
            critical = False
            if role in ("xx_unsat2", "xx_unsat2_appeal"):
                rating = "不满意" if accepted and unsat_count[p.pid] < 2 and p.out is None else rating.replace("不满意", "基本满意")
            elif role in ("ts_unsat2", "ts_unsat2_appeal"):
                rating = "不满意" if unsat_count[p.pid] < 2 and p.out is None else rating.replace("不满意", "基本满意")
            elif role == "lz_gray11":
                rating = "不满意" if p.out is None or rng.random() < 0.5 else "基本满意"
            elif role == "lz_unsat6":
                rating = "不满意" if unsat_count[p.pid] < 6 else rating.replace("不满意", "基本满意")
            elif rating == "不满意":
                if not p.good:
                    rating = "基本满意"
                elif j == "xinxiang" and accepted:
                    rating = "不满意" if p.may_take("warning") else "基本满意"
                elif j == "tangshan":
                    rating = "不满意" if p.unsat < 1 else "基本满意"
                elif j == "liuzhou":
                    rating = "不满意" if ent in p.unsat_ents or len(p.unsat_ents) < 4 else "基本满意"
            if rating == "不满意":
                critical = not p.good
                unsat_count[p.pid] += 1
                p.unsat += 1
                if ent not in p.unsat_ents:
                    p.unsat_ents.append(ent)
            late = not critical and rng.random() < 0.05
            recorded = self.days(day, 3, 10) if late else day
            if not self.add(recorded, m.RateSatisfaction, project_id=project_id, provider_id=provider_id, rating=rating, effective_on=day if late else None):
                continue
            p.ratings.append((day, rating, ent))
            p.rating_log.append((recorded, rating, project_id))
            if rating != "不满意":
                continue
            if j == "xinxiang" and accepted:  # 新乡 第十五条（四）: a warning, to rectify
                if p.out is None:
                    p.warnings += 1
                    self.complete(p, self.days(recorded, 7, 14), ("rating_sanction", p.pid, project_id))
                if p.warnings >= 2 and p.out is None:
                    p.out = recorded
                    self.outcome(p, recorded, last_rating=project_id)
            elif j == "tangshan" and p.unsat >= 2 and p.out is None and not p.good:
                p.out = recorded
                self.outcome(p, recorded, last_rating=project_id)
            elif j == "liuzhou" and p.out is None and not p.good:
                if len(p.unsat_ents) == 6 and p.orders == 0:  # 柳州 第十二条（六）
                    p.orders += 1
                    self.complete(p, self.days(recorded, 7, 14), ("rule_sanction", p.pid, "liuzhou.12.6"))
                if len(p.unsat_ents) >= 11:  # 柳州 第十四条（五）
                    p.out = recorded
        if not self.full:  # a small plan may leave an outcome from ratings unreached
            return
        for role in ("xx_unsat2", "xx_unsat2_appeal", "ts_unsat2", "ts_unsat2_appeal", "lz_gray11"):
            for p in self.fates[role]:
                if p.out is None:
                    raise RuntimeError(f"demo generator: {p.pid} ({role}) did not reach its outcome from ratings")
        for p in self.fates["lz_unsat6"]:
            if len(p.unsat_ents) < 6:
                raise RuntimeError(f"demo generator: {p.pid} (lz_unsat6) has {len(p.unsat_ents)} 不满意 ratings")

    def outcome(self, p: _Prov, day: date, last_rating: str) -> None:
        """What follows a removal derived from ratings: an appeal, or fees withheld."""
        if p.role == "xx_unsat2_appeal":
            self.appeal(
                p, self.days(day, 16, 20), "第十七条（二）", (("rating", last_rating, p.pid),), upheld=True,
                matter="对试点企业满意度评价“不满意”提出异议",
                reasons="评价时项目已通过验收且各项指标达标，企业的评价依据是与本服务商无关的设备供货延误",
                purpose="撤销该项“不满意”评价及由此产生的警告和取消资格决定",
                docs=["验收报告", "企业设备供货合同", "项目周报"],
            )  # fmt: skip
        elif p.role == "ts_unsat2_appeal":
            self.appeal(
                p, self.days(day, 5, 15), "第十六条（二）", (("rating", last_rating, p.pid),), upheld=True,
                matter="对企业满意度评价“不满意”提出异议",
                reasons="评价表由非项目负责人填写，企业事后书面确认对服务基本满意",
                purpose="撤销该项评价及据此作出的取消资格、纳入黑名单决定",
                docs=["企业书面说明", "满意度评价表原件"],
            )  # fmt: skip
        elif p.role in ("xx_unsat2", "ts_unsat2"):
            reason = "新乡 第十六条：取消服务商资格，扣减未结算服务费用" if p.j == "xinxiang" else "唐山 第十三条、第十四条：取消资格并纳入黑名单，不予支付服务费用"
            self.add(self.days(day, 10, 20), m.WithholdFees, provider_id=p.pid, project_id=p.projects[-1], amount=_money(self.rng.uniform(50_000, 300_000)), reason=reason)

    def appeal(self, p: _Prov, filed: date, ground: str, targets: tuple, upheld: bool, matter: str, reasons: str, purpose: str, docs: list[str],
               decide_in: tuple[int, int] = (20, 30)) -> date:  # fmt: skip
        """FileAppeal, then DecideAppeal 20-30 days later; an upheld appeal reinstates a removed provider."""
        aid = self.dated_id(p.j, "A", filed)
        self.add(filed, m.FileAppeal, appeal_id=aid, provider_id=p.pid, ground=ground, matter=matter, reasons=reasons, purpose=purpose,
                 supporting_evidence=docs, refs={"evidence_refs": targets})  # fmt: skip
        decided = self.days(filed, *decide_in)
        self.add(decided, m.DecideAppeal, appeal_id=aid, upheld=upheld,
                 reasons="申诉理由成立，相关证据不再作为认定依据" if upheld else "申诉理由不成立，维持原处理决定")  # fmt: skip
        if upheld and p.out is not None and p.out <= filed:
            p.back = decided
        return decided

    # --- 6. payments -------------------------------------------------------------------------------

    def removed_on(self, p: _Prov, day: date) -> bool:
        """Out of the pool by a sanction (not a voluntary exit) on that day."""
        return not p.role.endswith("_exit") and p.out is not None and day >= p.out and not (p.back is not None and day > p.back)

    def payments(self) -> None:
        for project in self.projects.values():
            if project.started is None:
                continue
            lead = project.providers[0]
            pre = _money(float(project.cost) * 0.3)
            self.add(self.days(project.started, 0, 10), m.RecordPayment, project_id=project.pid, kind="prepayment", amount=pre, provider_id=lead)
            if project.passed_on is not None:
                rest = project.cost - pre
                shares = [(lead, rest)] if len(project.providers) == 1 else [(lead, _money(float(rest) * 0.6))]
                for provider_id in project.providers[1:]:
                    shares.append((provider_id, _money(float(rest) * 0.4 / (len(project.providers) - 1))))
                for provider_id, amount in shares:
                    day = self.days(project.passed_on, 15, 45)
                    kind = "fee_withheld" if self.removed_on(self.provs[provider_id], day) else "fee_paid"
                    self.add(day, m.RecordPayment, project_id=project.pid, kind=kind, amount=amount, provider_id=provider_id)
            elif project.failed_finally is not None and project.j == "tangshan" and self.rng.random() < 0.7:
                # 唐山 第十四条: 试点企业有权追回该项目预付款项
                self.add(self.days(project.failed_finally, 20, 40), m.RecordPayment, project_id=project.pid, kind="prepayment_recovered", amount=pre, provider_id=lead)

    # --- 7. yearly grades, evaluations and stars ---------------------------------------------------

    def grades(self) -> None:
        rng = self.rng
        windows = {2024: (date(2025, 1, 13), date(2025, 1, 24)), 2025: (date(2025, 12, 8), date(2025, 12, 19))}
        for year, (low, high) in windows.items():
            for p in self.of("tianjin"):  # 天津 第十一条: A >= 80, B >= 70, C >= 60, D < 60
                removing = (p.role == "tj_grade_2024" and year == 2024) or (p.role == "tj_grade_2025" and year == 2025)
                day = p.out if removing else self.between(low, high)
                assert day is not None
                if not p.in_pool(day) and not removing:
                    continue
                score = rng.choice((55.5, 58.0, 61.5, 64.0, 67.5)) if removing else min(98.0, max(70.5, rng.gauss(83, 6)))
                self.add(day, m.RecordScore, provider_id=p.pid, year=year, score=round(score, 1))
        windows = {2024: (date(2025, 1, 20), date(2025, 2, 7)), 2025: (date(2025, 12, 8), date(2025, 12, 22))}
        for year, (low, high) in windows.items():
            for p in self.of("province"):  # 省指南 四（三）: unqualified two years running -> cleared
                removing = p.role == "pv_unq2"
                day = p.out if removing and year == 2025 else self.between(low, high)
                assert day is not None
                if not p.in_pool(day) and not (removing and year == 2025):
                    continue
                qualified = not removing
                if p.good and rng.random() < 0.1 and year - 1 not in p.unqualified:
                    qualified = False
                if not qualified:
                    p.unqualified.append(year)
                self.add(day, m.RecordEvaluation, provider_id=p.pid, year=year, qualified=qualified)
        # 新乡 第十四条: first rating in the 3rd month after the first batch was announced (March 2024)
        rounds = {"2024-R1": date(2024, 6, 17), "2024-R2": date(2024, 12, 16), "2025-R1": date(2025, 6, 16), "2025-R2": date(2025, 12, 15)}
        thresholds = {"three_star_min_enterprises": 5, "three_star_min_satisfied": 0.9, "two_star_min_enterprises": 3, "two_star_min_satisfied": 0.8, "one_star_min_enterprises": 1}
        for name, day in rounds.items():
            for p in self.of("xinxiang"):
                rated_on = self.days(day, 0, 3)
                if not p.in_pool(rated_on):
                    continue
                served = {self.projects[pid].enterprise_id for pid in p.projects if self.projects[pid].registered < day}
                rated = [r for d, r, _ in p.ratings if d < day]
                share = round(sum(1 for r in rated if r != "不满意") / len(rated), 2) if rated else 0.0
                n = len(served)
                if n >= 5 and rated and share >= 0.9:
                    stars = 3
                elif n >= 3 and rated and share >= 0.8:
                    stars = 2
                elif n >= 1:
                    stars = 1
                else:
                    stars = 0
                basis: dict[str, float | int | str] = {"enterprises_served": n, "ratings": len(rated), "satisfied_share": share, **thresholds}
                self.add(rated_on, m.RecordStarRating, provider_id=p.pid, rating_round=name, stars=stars, basis=basis)

    # --- 8. scripted outcomes that do not come from ratings ----------------------------------------

    def complaint(self, p: _Prov, filed: date, kind: str, subject: str, *, verdict: str | None, verify_on: date | None = None,
                  answer: bool = True, late: bool = False, request: date | None = None, findings: str = "") -> str:  # fmt: skip
        """File a complaint or report; ask the provider to answer; answer; verify. Returns its id."""
        rng = self.rng
        cid = self.dated_id(p.j, "C", filed)
        enterprise_id = None
        if kind == "enterprise":
            served = [self.projects[pid] for pid in p.projects if self.projects[pid].registered < filed]
            if served:
                project = rng.choice(served)
                enterprise_id, name = project.enterprise_id, project.enterprise_name
            else:
                name = self.enterprise_name(p.j)
        elif kind == "provider":
            others = self.of(p.j, lambda o: o.pid != p.pid)
            name = rng.choice(others).name if others else self.provider_name(p.j, p.kind)
        else:
            name = self.person()
        real_name = p.j == "xinxiang" or kind != "public" or rng.random() < 0.6
        self.add(
            filed, m.FileComplaint, complaint_id=cid, provider_id=p.pid, complainant_kind=kind, nature="report" if kind == "public" else "complaint",
            complainant_name=name if real_name else None, contact=f"1{rng.randint(3, 9)}{rng.randint(0, 10**9 - 1):09d}" if real_name else None,
            real_name=real_name, subject=subject, evidence=rng.sample(EVIDENCE, rng.randint(1, 3)), enterprise_id=enterprise_id,
        )  # fmt: skip
        request = request or self.days(filed, 1, 4)
        self.add(request, m.RequestAnswer, complaint_id=cid)
        if answer:
            self.add(self.days(request, 3, 12), m.RecordAnswer, complaint_id=cid, summary="服务商书面回复：已核查相关情况并提交整改说明")
        if verdict is not None:
            verify_on = verify_on or self.days(filed, 25, 60)
            self.add(verify_on, m.VerifyComplaint, complaint_id=cid, verdict=verdict, effective_on=filed if late else None,
                     findings=findings or ("经调查核实，投诉反映问题属实" if verdict == "true" else "经调查核实，投诉反映问题不属实"))  # fmt: skip
        return cid

    def finding(self, p: _Prov, day: date, article: str, text: str, *, evidence: tuple = (), deadline_days: int | None = None,
                exceptional_reason: str | None = None, complete: bool = True) -> str:  # fmt: skip
        """RecordFinding citing an article; for a warning or an order, rectification within the deadline. Returns its summary."""
        summary = f"{text}（{self.summary_no(p.j, day.year)}）"
        fields: dict[str, Any] = {"provider_id": p.pid, "article": article, "summary": summary}
        if deadline_days is not None:
            fields["deadline_days"] = deadline_days
        if exceptional_reason:
            fields["exceptional_reason"] = exceptional_reason
        self.add(day, m.RecordFinding, refs={"evidence": evidence} if evidence else None, **fields)
        if deadline_days is not None and complete:
            self.complete(p, self.days(day, 3, max(3, deadline_days - 3)), ("finding_sanction", p.pid, summary))
        return summary

    def scripted(self) -> None:
        rng, D = self.rng, timedelta
        for p in self.fates["tj_complaints"]:  # 天津 第十二条（四）: three verified complaints
            third = self.script[p.pid]["start"]
            verifies = [third - D(days=rng.randint(100, 130)), third - D(days=rng.randint(40, 70)), third]
            for k, verify_on in enumerate(verifies):
                filed = verify_on - D(days=rng.randint(30, 50))
                self.complaint(p, filed, "provider" if k == 1 else "enterprise", rng.choice(COMPLAINT_SUBJECTS), verdict="true", verify_on=verify_on, late=k == 0)
            self.complaint(p, third - D(days=rng.randint(60, 90)), "enterprise", rng.choice(COMPLAINT_SUBJECTS), verdict="unfounded")
        for p in self.fates["tj_fraud"]:
            self.finding(p, p.out, "第十二条（五）", "经专项审计，该服务商在承担的改造项目中虚增设备采购费用，骗取资助资金")  # type: ignore[arg-type]
        for role in ("tj_exit", "xx_exit", "pv_exit", "ts_exit", "lz_exit"):
            for p in self.fates[role]:
                self.add(p.out, m.WithdrawFromPool, provider_id=p.pid, reason=rng.choice(("公司业务调整，主动申请退出", "服务团队撤离本地，主动申请退出服务商库")))  # type: ignore[arg-type]

        for p in self.fates["xx_mix"]:  # 新乡 第十六条（一）: two warnings, then an appeal that is dismissed
            second = self.script[p.pid]["start"]
            self.finding(p, second - D(days=rng.randint(110, 130)), "第十五条（三）", "月度项目进度报告连续两个月未按时报送", deadline_days=30)
            changed = second - D(days=rng.randint(95, 110))
            reported = second - D(days=rng.randint(10, 16))
            self.add(reported, m.RecordProfileChange, provider_id=p.pid, field="legal_representative", new_value=self.person(), changed_on=changed, reported_on=reported)
            summary = self.finding(p, second, "第十五条（一）", "法定代表人变更逾期三个月才向市工业和信息化局报告", deadline_days=30,
                                   evidence=(("profile_change", p.pid, "legal_representative", changed.isoformat()),))  # fmt: skip
            self.appeal(
                p, self.days(second, 5, 10), "第十七条（三）", (("finding_sanction", p.pid, summary),), upheld=False,
                matter="对警告及取消资格决定提出申诉", reasons="法定代表人变更期间公司办公场所受暴雨灾害影响，未能及时报告",
                purpose="撤销第二次警告及取消资格决定", docs=["气象灾害预警通知", "工商变更登记材料"],
            )  # fmt: skip
        for p in self.fates["xx_unanswered"]:  # 新乡 第十八条: a real-name report the provider never answers
            sc = self.script[p.pid]
            cid = self.complaint(p, sc["start"], "public", "举报该服务商申报材料中的项目业绩与实际不符", verdict=None, answer=False, request=sc["request"])
            verify_on = self.days(_next_first(sc["deadline"]), 5, 15)
            self.add(verify_on, m.VerifyComplaint, complaint_id=cid, verdict="true", findings="服务商逾期未回复；经核实，举报反映的业绩材料不实")
        for p in self.fates["xx_refused"]:  # 新乡 第十六条（二）: refuses to rectify after a warning
            sc = self.script[p.pid]
            summary = self.finding(p, sc["start"], "第十五条（五）", "解决方案清单中私自绑定专属产品，标准化产品报价高于同期市场价格", deadline_days=30, complete=False)
            self.add(sc["refusal"], m.RecordRectificationRefusal, provider_id=p.pid, refs={"sanction_ref": ("finding_sanction", p.pid, summary)})
        for p in self.fates["xx_fraud"]:  # 新乡 第十六条（五）
            self.finding(p, p.out, "第十六条（五）", "经纪检部门查实，该服务商向试点企业相关人员输送不正当利益")  # type: ignore[arg-type]
            self.add(self.days(p.out, 10, 20), m.WithholdFees, provider_id=p.pid, project_id=p.projects[-1] if p.projects else None,  # type: ignore[arg-type]
                     amount=_money(rng.uniform(80_000, 400_000)), reason="取消服务商资格，扣减未结算服务费用", article="第十六条（五）")  # fmt: skip

        for p in self.fates["pv_overdue"]:  # 省指南 四（一）: an order not rectified in time -> cleared
            sc = self.script[p.pid]
            cid = self.complaint(p, sc["start"], "enterprise", "平台登记的产品功能与实际交付产品不符", verdict="true", verify_on=sc["verify"])
            self.finding(p, sc["finding"], "四（一）整改", "平台产品信息不实，经客户举报核实", evidence=(("complaint", cid),), deadline_days=30, complete=False)
        for p in self.fates["pv_clear"]:
            sc = self.script[p.pid]
            cid = self.complaint(p, sc["start"], "enterprise", "服务商冒用其他企业案例承揽项目，造成企业损失", verdict="true", verify_on=sc["verify"])
            self.finding(p, sc["finding"], "四（一）清退", "客户举报经核实存在严重不良行为", evidence=(("complaint", cid),))
        for p in self.fates["pv_fraud"]:  # 省指南 四（四）
            self.finding(p, p.out, "四（四）", "申报及服务过程中提供虚假业绩证明，存在欺诈行为")  # type: ignore[arg-type]

        ts_texts = {"第十二条（二）": "驻场人员不足，未按合同要求服务试点企业，造成企业投诉", "第十二条（三）": "软件采购清单功能与费用罗列不准确",
                    "第十二条（五）": "拒不配合第三方支撑机构开展项目监理"}  # fmt: skip
        for role, appeal in (("ts_orders3_appeal", True), ("ts_orders3_dismissed", False)):  # 唐山 第十三条（一）: a third order
            for p in self.fates[role]:
                summaries = [
                    self.finding(p, day, article, text, deadline_days=rng.choice((20, 30)))
                    for day, (article, text) in zip(self.script[p.pid]["findings"], ts_texts.items())
                ]
                third = self.script[p.pid]["findings"][-1]
                if appeal:
                    self.appeal(
                        p, self.days(third, 18, 22), "第十六条（一）", (("finding_sanction", p.pid, summaries[0]),), upheld=True,
                        matter="对第一次限期整改决定提出申诉", reasons="试点企业长期未提供诊断所需的生产数据和现场条件，致使服务进度滞后",
                        purpose="撤销该次整改决定及据此作出的黑名单决定", docs=["工作联系函及企业签收记录", "项目周报"],
                    )  # fmt: skip
                else:
                    self.appeal(
                        p, self.days(third, 18, 22), "第十六条（三）", (("removal", p.pid),), upheld=False,
                        matter="对取消资格并纳入黑名单的认定理由提出异议", reasons="三次整改均已按期完成，不应再纳入黑名单",
                        purpose="撤销黑名单决定", docs=["整改完成报告"],
                    )  # fmt: skip
        for p in self.fates["ts_refused"]:  # 唐山 第十三条（一）: refuses to rectify within the deadline
            sc = self.script[p.pid]
            summary = self.finding(p, sc["start"], "第十二条（四）", "改造成效与实施方案存在明显偏差，未通过企业验收", deadline_days=30, complete=False)
            self.add(sc["refusal"], m.RecordRectificationRefusal, provider_id=p.pid, refs={"sanction_ref": ("finding_sanction", p.pid, summary)})
        for p in self.fates["ts_leak"]:  # 唐山 第十三条（四）
            self.finding(p, p.out, "第十三条（四）", "未经授权向第三方提供试点企业生产工艺数据，泄露企业商业秘密")  # type: ignore[arg-type]
            self.add(self.days(p.out, 10, 20), m.WithholdFees, provider_id=p.pid, project_id=p.projects[-1] if p.projects else None,  # type: ignore[arg-type]
                     amount=_money(rng.uniform(80_000, 400_000)), reason="唐山 第十四条：服务商被清退，不予支付服务费用", article="第十三条（四）")  # fmt: skip

        lz_texts = {"第十二条（一）": "对接和进驻试点企业不及时，造成企业投诉", "第十二条（三）": "标准化产品报价高于同期市场均价",
                    "第十二条（五）": "以低于成本的报价排挤其他服务商"}  # fmt: skip
        for p in self.fates["lz_orders3"]:  # 柳州 第十四条（四）: a third order
            for day, (article, text) in zip(self.script[p.pid]["findings"], lz_texts.items()):
                self.finding(p, day, article, text, deadline_days=rng.choice((20, 30)))
        for p in self.fates["lz_overdue"]:  # 柳州 第十四条（四）: not rectified on time
            self.finding(p, self.script[p.pid]["start"], "第十二条（一）", "服务不能满足试点企业需求，造成企业投诉", deadline_days=20, complete=False)
        for p in self.fates["lz_fake"]:  # 柳州 第十四条（三）
            self.finding(p, p.out, "第十四条（三）", "与试点企业签订虚假合同、夸大改造成本")  # type: ignore[arg-type]
        for p in self.fates["lz_report"]:  # 柳州 第十五条: a verified report
            sc = self.script[p.pid]
            cid = self.complaint(p, sc["start"], "public", "举报该服务商工作人员索要回扣", verdict="true", verify_on=sc["verify"])
            self.finding(p, sc["finding"], "第十五条", "举报经核实，服务商工作人员存在违规收受回扣行为", evidence=(("complaint", cid),))

    # --- 9. what happens to providers that stay in good standing ------------------------------------

    CONSEQUENCE = {  # article a verified complaint leads to
        "xinxiang": ("第十五条（二）", "warning"), "tangshan": ("第十二条（二）", "order"),
        "liuzhou": ("第十二条（一）", "order"), "province": ("四（一）整改", "order"),
    }  # fmt: skip
    ROUTINE = {
        "xinxiang": (("第十五条（三）", "项目资料报送不及时、不完整"), ("第十五条（五）", "软件采购清单未列明具体功能和费用")),
        "tangshan": (("第十二条（三）", "解决方案清单项目不完整"), ("第十二条（五）", "未按要求配合第三方评测"), ("第十二条（六）", "报价条款不符合公平竞争要求")),
        "liuzhou": (("第十二条（三）", "产品报价高于同期市场均价"), ("第十二条（五）", "项目推介中存在不当比较宣传")),
        "province": (("四（一）整改", "平台产品信息未及时更新"), ("四（一）整改", "服务案例信息与实际不符")),
    }  # fmt: skip
    LATE_REPORT = {"xinxiang": "第十五条（一）", "tangshan": "第十二条（一）", "liuzhou": "第十二条（二）"}

    def routine(self) -> None:
        rng = self.rng
        complaints = {"tianjin": 20, "xinxiang": 10, "province": 8, "tangshan": 10, "liuzhou": 10}
        for j, n in complaints.items():
            for _ in range(n):
                filed = self.between(date(2024, 5, 6), date(2025, 10, 31))
                candidates = self.of(j, lambda p: p.good and p.in_pool(filed))
                if not candidates:
                    continue
                p = self.pick(candidates)
                kind = rng.choices(("enterprise", "provider", "public"), weights=(70, 15, 15))[0]
                verify_on = self.days(filed, 25, 60)
                true = rng.random() < 0.45
                if true and j == "tianjin" and kind != "public":
                    true = p.may_take("verified")
                    p.verified += true
                answer = j == "xinxiang" or rng.random() < 0.85
                cid = self.complaint(p, filed, kind, rng.choice(COMPLAINT_SUBJECTS), verdict="true" if true else "unfounded",
                                     verify_on=verify_on, answer=answer, late=true and j == "tianjin" and rng.random() < 0.35)  # fmt: skip
                if true and j in self.CONSEQUENCE:
                    day = self.days(verify_on, 5, 12)
                    article, what = self.CONSEQUENCE[j]
                    if p.in_pool(day) and p.may_take(what):
                        setattr(p, what + "s", getattr(p, what + "s") + 1)
                        self.finding(p, day, article, "投诉经核实：" + rng.choice(COMPLAINT_SUBJECTS), evidence=(("complaint", cid),), deadline_days=rng.choice((15, 20, 30)))
        findings = {"xinxiang": 5, "tangshan": 7, "liuzhou": 5, "province": 6}
        for j, n in findings.items():
            for k in range(n):
                day = self.between(date(2024, 6, 1), date(2025, 11, 15))
                what = self.CONSEQUENCE[j][1]
                candidates = self.of(j, lambda p: p.in_pool(day) and p.may_take(what))
                if not candidates:
                    continue
                p = self.pick(candidates)
                setattr(p, what + "s", getattr(p, what + "s") + 1)
                article, text = rng.choice(self.ROUTINE[j])
                if j == "tangshan" and k == 0:
                    self.finding(p, day, article, text, deadline_days=45, exceptional_reason="整改涉及硬件设备更换，供货周期较长，经局务会同意延长整改期限")
                else:
                    self.finding(p, day, article, text, deadline_days=rng.choice((15, 20, 30)))
        # profile changes, a few reported late (新乡 第十五条（一）, 唐山 第十二条（一）, 柳州 第十二条（二）)
        for k in range(24):
            changed = self.between(date(2024, 4, 1), date(2025, 8, 31))
            candidates = [p for p in self.provs.values() if p.good and p.in_pool(changed)]
            if not candidates:
                continue
            p = self.pick(candidates)
            fld = rng.choice(("address", "legal_representative", "registered_capital", "business_scope", "address", "name"))
            if fld == "name":
                if p.name.endswith("股份有限公司"):
                    fld = "address"
                else:
                    new = p.name.replace("有限公司", "股份有限公司")
                    self.names.add(new)
                    p.name = new
            new_value = {
                "address": lambda: self.address(p.j), "legal_representative": self.person,
                "registered_capital": lambda: f"{rng.choice(CAPITALS[4:])}万元人民币",
                "business_scope": lambda: rng.choice(SCOPES) + "；人工智能应用软件开发", "name": lambda: p.name,
            }[fld]()  # fmt: skip
            late = k % 4 == 0
            reported = self.days(changed, 60, 120) if late else self.days(changed, 2, 20)
            if not self.add(reported, m.RecordProfileChange, provider_id=p.pid, field=fld, new_value=new_value, changed_on=changed, reported_on=reported):
                continue
            day = self.days(reported, 5, 15)
            if late and p.j in self.LATE_REPORT:
                what = self.CONSEQUENCE[p.j][1]
                if p.in_pool(day) and p.may_take(what):
                    setattr(p, what + "s", getattr(p, what + "s") + 1)
                    self.finding(p, day, self.LATE_REPORT[p.j], "注册信息重大变更未及时报告", evidence=(("profile_change", p.pid, fld, changed.isoformat()),), deadline_days=20)
        # appeals of providers in good standing: one upheld (新乡), one dismissed (唐山)
        day = self.between(date(2025, 4, 1), date(2025, 5, 30))
        candidates = self.of("xinxiang", lambda p: p.in_pool(day) and p.may_take("warning"))
        if candidates:
            p = self.pick(candidates)
            p.warnings += 1
            summary = self.finding(p, day, "第十五条（三）", "项目验收资料报送超期", deadline_days=30, complete=False)
            self.appeal(
                p, self.days(day, 2, 4), "第十七条（一）", (("finding_sanction", p.pid, summary),), upheld=True, decide_in=(18, 22),
                matter="对警告决定提出申诉", reasons="试点企业迟迟不组织验收签字，导致资料无法按时报送",
                purpose="撤销该次警告", docs=["催办函", "企业回函"],
            )  # fmt: skip
        unsatisfied = {p.pid: [(d, pid) for d, r, pid in p.rating_log if r == "不满意" and d < date(2025, 10, 15)] for p in self.of("tangshan", lambda p: p.good)}
        candidates = [p for p in self.of("tangshan") if unsatisfied.get(p.pid)]
        if candidates:
            p = self.pick(candidates)
            day, project_id = unsatisfied[p.pid][0]
            self.appeal(
                p, self.days(day, 12, 20), "第十六条（二）", (("rating", project_id, p.pid),), upheld=False,
                matter="对企业满意度评价“不满意”提出异议", reasons="项目已按合同完成并通过验收",
                purpose="撤销该项“不满意”评价", docs=["验收报告"],
            )  # fmt: skip

    # --- 10. the scheduler -------------------------------------------------------------------------

    def deadlines(self) -> None:
        day = date(2024, 2, 1)
        while day <= DEMO_END:
            self.add(day, m.RecordPassedDeadlines, priority=0)
            day = _next_first(day)


def _next_first(day: date) -> date:
    """The first day of the month after ``day``'s."""
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


# --- the public API ------------------------------------------------------------------------------


def demo_plan(seed: int = 2024, providers: int = 220) -> list[PlanEntry]:
    """The demo's commands in chronological order, each with the instant it is recorded at.

    ``providers`` is the number of providers admitted to the five pools (a few more
    applicants are refused or lapse); from ``FULL_OUTCOMES`` (150) on, the plan holds
    every scripted outcome, and generating it checks so; smaller plans hold fewer. The
    same seed gives the same plan, command ids included (``demo{seed}-NNNNN``), so run
    it on an empty ledger.

    An entry is ``(instant, command)`` where command is a :class:`~ledger.commands.models.Command`
    or a :class:`Deferred`: a callable ``(ledger) -> Command`` for the commands that name
    events (appeals, rectifications, findings citing evidence). Their refs
    (``aggregate-uuid/version``) depend on the events recorded before them, so they are
    looked up from the ledger when the entry is executed; ``run_demo`` does this.

    Some facts are recorded after they took effect (``effective_on`` earlier than the
    recording day): acceptances, ratings and verified complaints entered late, and
    profile changes reported late. Ineligible applicants are simply not generated: the
    plan contains only commands that succeed.
    """
    builder = _Builder(seed, providers)
    builder.rulebooks()
    builder.providers()
    builder.roles()
    builder.projects_all()
    builder.ratings()
    builder.payments()
    builder.grades()
    builder.scripted()
    builder.routine()
    builder.deadlines()
    return builder.plan()


def plan_fingerprint(plan: Sequence[PlanEntry]) -> str:
    """A SHA-256 over the plan's instants and commands (lazy ones by what they would build)."""
    digest = hashlib.sha256()
    for when, entry in plan:
        if isinstance(entry, Deferred):
            body = json.dumps([entry.command.__name__, entry.fields, entry.refs], default=str, ensure_ascii=False)
        elif isinstance(entry, DeadlineSweep):
            body = json.dumps(["RecordPassedDeadlines", entry.command_id])
        else:
            body = entry.model_dump_json()
        digest.update(f"{when.isoformat()}|{body}\n".encode())
    return digest.hexdigest()


@dataclass
class DemoSummary:
    commands: int
    events: int
    seconds: float
    providers: int  # applications
    projects: int
    by_command: dict[str, int]
    registry: list[dict[str, Any]]


SCHEDULER = "数字化转型服务商资源池 (demo scheduler)"


def _recorder(command: m.Command) -> str:
    """Who records a demo command: the bureau of the jurisdiction it concerns."""
    jurisdiction = getattr(command, "jurisdiction", None)
    if jurisdiction is None:
        for name in ("provider_id", "project_id", "complaint_id", "appeal_id"):
            value = getattr(command, name, None)
            if value:
                code = value.split("-", 1)[0]
                jurisdiction = next((j for j, c in CONFIG.items() if c.code == code), None)
                break
    return CONFIG[jurisdiction].bureau if jurisdiction in CONFIG else SCHEDULER


def run_demo(ledger: Ledger, plan: Sequence[PlanEntry], progress: Callable[[int, int], None] | None = None) -> DemoSummary:
    """Execute every entry of the plan at its instant (the ledger's ManualClock is moved there).

    Every command must succeed: the first that fails raises :class:`DemoError` naming
    it, with the domain's error as its cause. Run on an empty ledger whose clock starts
    at or before ``DEMO_START``.
    """
    clock = ledger.clock
    if not isinstance(clock, ManualClock):
        raise DemoError(f"the demo moves the ledger's clock: build the Ledger with a ManualClock (got {type(clock).__name__})")
    total = len(plan)
    events = 0
    by_command: Counter[str] = Counter()
    started = time.perf_counter()
    for done, (when, entry) in enumerate(plan, 1):
        label = f"demo entry {done}/{total} at {when.isoformat()}"
        try:
            clock.set(when)
        except ValueError as error:
            raise DemoError(f"{label}: {error}; start the ManualClock at or before {DEMO_START}") from error
        if isinstance(entry, DeadlineSweep):
            try:
                swept = sweep(ledger, sweep_id=entry.command_id, recorded_by=SCHEDULER)
            except Exception as error:
                raise DemoError(f"{label}: the deadline sweep {entry.command_id} failed: {error}") from error
            events += sum(len(r.positions) for r in swept.results.values())
            by_command["RecordPassedDeadlines"] += len(swept.results)
            if progress is not None:
                progress(done, total)
            continue
        try:
            command = entry(ledger) if isinstance(entry, Deferred) else entry
        except (LookupError, ValueError) as error:
            raise DemoError(f"{label}: cannot build {entry.command.__name__} {entry.command_id}: {error}") from error  # type: ignore[union-attr]
        if command.recorded_by is None:
            command = command.model_copy(update={"recorded_by": _recorder(command)})
        try:
            result = ledger.execute(command)
        except Exception as error:
            raise DemoError(f"{label}: {type(command).__name__} {command.command_id} failed: {error}\n{command.model_dump_json()}") from error
        if result.duplicate:
            raise DemoError(f"{label}: {type(command).__name__} {command.command_id} was already recorded: run the demo on an empty ledger")
        events += len(result.positions)
        by_command[type(command).__name__] += 1
        if progress is not None:
            progress(done, total)
    seconds = time.perf_counter() - started
    return DemoSummary(
        commands=total,
        events=events,
        seconds=round(seconds, 2),
        providers=by_command["SubmitApplication"],
        projects=by_command["RegisterProject"],
        by_command=dict(sorted(by_command.items())),
        registry=registry_summary(ledger),
    )


def _provider_ids(ledger: Ledger) -> list[str]:
    ids = wire.aggregate_ids(ledger.store, "provider")
    first = ledger.store.read_refs([event_ref(i, 1) for i in ids])
    return sorted(decode_state(first[event_ref(i, 1)])["provider_id"] for i in ids)


def registry_summary(ledger: Ledger) -> list[dict[str, Any]]:
    """Per jurisdiction: providers by status and sanctions by article.

    ``by_status`` counts providers by ``standing_label`` (in_pool, warned, rectifying,
    removed, disqualified, ...). ``sanctions_by_article`` counts the sanctions in force,
    ``rescinded_by_article`` those rescinded after an appeal, both keyed
    ``"<article> <sanction>"``, e.g. ``"第十六条（一） disqualification"``.
    """
    rows: dict[str, dict[str, Any]] = {}

    def row(j: str) -> dict[str, Any]:
        if j not in rows:
            document = PACKS[j].document if j in PACKS else ""
            rows[j] = {"jurisdiction": j, "document": document, "providers": 0, "by_status": Counter(), "sanctions_by_article": Counter(), "rescinded_by_article": Counter()}
        return rows[j]

    for j in JURISDICTIONS:
        row(j)
    for provider_id in _provider_ids(ledger):
        provider = ledger.load(Provider, provider_id)
        counts = row(provider.jurisdiction)
        counts["providers"] += 1
        counts["by_status"][standing_label(provider)] += 1
        for sanction in provider.sanctions.values():
            key = f"{sanction['citation']['article']} {sanction['sanction']}"
            counts["rescinded_by_article" if sanction["rescinded_on"] is not None else "sanctions_by_article"][key] += 1
    return [
        {k: dict(sorted(v.items())) if isinstance(v, Counter) else v for k, v in counts.items()}
        for counts in rows.values()
    ]


__all__ = [
    "DEMO_END", "DEMO_START", "DeadlineSweep", "Deferred", "DemoError", "DemoSummary", "PlanEntry",
    "demo_plan", "locate", "plan_fingerprint", "registry_summary", "run_demo",
]  # fmt: skip
