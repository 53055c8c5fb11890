"""Texts as real callers write them: short, unpunctuated, traditional Chinese, Cantonese, English, typos.

One row per text: text -> valid, the most and the least urgent level allowed, category (None: any). From a
review that ran 199 such texts through `judge`: each table is one of its findings, with the negatives that
keep its fix from raising false alarms.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import pytest

from events.reference import load_reference
from services.runtime.chinese import traditional_characters
from services.triage import rules as rules_module
from services.triage.lexicon import compile_term, normalise
from services.triage.rules import load_rules, parse_rules
from services.triage.scoring import ComplaintFacts, judge

RULES = load_rules()
Row = tuple[str, bool, str, str, str | None]


def check(text: str, valid: bool, most: str, least: str, category: str | None) -> None:
    verdict = judge(ComplaintFacts(text), rules=RULES)
    a = verdict.assessment
    got = (verdict.valid, a.level, a.category, verdict.reason)
    assert verdict.valid is valid, got
    if valid:
        assert most <= a.level <= least, got  # P1 < P2 < P3 < P4
        assert a.life_threatening is (
            a.level == "P1" and any(f["name"] == "danger_to_life" for f in a.factors)
        )
    if category is not None:
        assert a.category == category, got


def table(rows: list[Row]) -> pytest.MarkDecorator:
    return pytest.mark.parametrize(
        ("text", "valid", "most", "least", "category"), rows, ids=[r[0] for r in rows]
    )


SAFE_ANSWERS_ITS_OWN_PHRASE: list[Row] = [
    ("i am fine, my dad is not breathing", True, "P1", "P1", None),
    ("我没事 隔壁阿婆晕倒了 叫不醒", True, "P1", "P1", None),
    ("我没事 但邻居家起火了", True, "P1", "P1", None),
    ("我没事但邻居家起火了", True, "P1", "P1", None),
    ("not everyone is safe, my brother is trapped", True, "P1", "P1", None),
    ("we are safe but grandma is trapped upstairs", True, "P1", "P1", None),
    ("everyone is safe but theres a strong gas smell and sparks", True, "P1", "P1", "gas_leak"),
    ("i'm fine but my neighbour is unconscious", True, "P1", "P1", None),
    ("人都没事 老人用呼吸机 停电了 急", True, "P1", "P1", "medical_access"),
    ("我哋冇事 但係隔離屋著火", True, "P1", "P1", None),
    # the safe statement is about the danger it sits with: a person still reads it (valid), but not P1
    ("everyone got out of the fire", True, "P3", "P4", None),
    ("Nobody is still inside, everyone got out of the fire", True, "P3", "P4", None),
    (
        "The firefighters already put out the fire, everyone is safe",
        False,
        "P4",
        "P4",
        None,
    ),  # over: no facts
]


@table(SAFE_ANSWERS_ITS_OWN_PHRASE)
def test_a_safe_statement_answers_only_the_danger_in_its_own_phrase(
    text: str, valid: bool, most: str, least: str, category: str | None
) -> None:
    check(text, valid, most, least, category)


TRADITIONAL_AND_CANTONESE: list[Row] = [
    ("電梯困人", True, "P1", "P1", "other"),
    ("困𨋢", True, "P1", "P1", "other"),
    ("我困喺𨋢入面 停咗電 好熱", True, "P1", "P1", "power_outage"),  # a power cut beside a lift: power
    ("電梯停咗 我哋困咗喺入面", True, "P1", "P1", "other"),
    ("煤氣洩漏", True, "P1", "P1", "gas_leak"),
    ("好大煤氣味", True, "P1", "P1", "gas_leak"),
    ("煤氣喉爆咗", True, "P1", "P1", "gas_leak"),
    ("我爸用製氧機 停電咗", True, "P1", "P1", "medical_access"),
    ("阿爸用緊呼吸機 停咗電", True, "P1", "P1", "medical_access"),
    ("地庫水浸 水浸到膝頭", True, "P1", "P3", "flooding"),
    ("屋企入晒水 阿婆行唔到", True, "P1", "P1", "flooding"),
    ("水浸屋企 😭😭 救命", True, "P1", "P1", "flooding"),
    ("我阿媽要洗腎 但係條路浸咗", True, "P1", "P2", "medical_access"),
    ("有火 好大煙", True, "P1", "P1", None),
    ("山泥傾瀉 屋企後面", True, "P2", "P3", "road_blocked"),
    ("冇電", True, "P3", "P3", "power_outage"),
    ("冇水", True, "P3", "P3", "water_outage"),
    ("佢冇呼吸", True, "P1", "P1", None),
    ("在天台 水浸上嚟 救命", True, "P1", "P1", "flooding"),
    # Cantonese negations: 冇, 唔
    ("電梯停咗 冇人困住", True, "P2", "P4", "other"),
    ("電線桿倒咗 冇人觸電", True, "P1", "P1", "power_outage"),  # a pole down is a live-wire danger itself
    ("冇煤氣味", True, "P3", "P4", "gas_leak"),
    # a space in "火锅" or a train is not a fire; a doorstep is not inside
    ("有火车停运", False, "P4", "P4", None),
    ("水浸到屋企门口", True, "P2", "P3", "flooding"),
]


@table(TRADITIONAL_AND_CANTONESE)
def test_traditional_chinese_and_cantonese_are_read_like_simplified(
    text: str, valid: bool, most: str, least: str, category: str | None
) -> None:
    check(text, valid, most, least, category)


DANGER_IN_CALLERS_WORDS: list[Row] = [
    ("she isnt breathing", True, "P1", "P1", None),
    ("can not breathe", True, "P1", "P1", None),
    ("不能呼吸", True, "P1", "P1", None),
    ("街上的水已经进到屋里了", True, "P1", "P1", "flooding"),
    ("水從門口湧入 好快", True, "P1", "P1", "flooding"),
    ("ground floor flat water coming under door", True, "P1", "P1", "flooding"),
    ("flood water is coming inside", True, "P1", "P1", "flooding"),
    ("we're stuck on the roof", True, "P1", "P1", "flooding"),
    ("im on the roof", True, "P1", "P1", "flooding"),
    ("我哋喺天台 水好大", True, "P1", "P1", "flooding"),
    ("charcoal burner indoors kids sleepy", True, "P1", "P1", None),
    ("rotten egg smell in the kitchen", True, "P1", "P1", "gas_leak"),
    ("lpg cylinder leaking", True, "P1", "P1", "gas_leak"),
    ("there is a strong gas odour", True, "P1", "P1", "gas_leak"),
    ("gas leek", True, "P1", "P1", "gas_leak"),
    ("煤气漏", True, "P1", "P1", "gas_leak"),
    ("燃气管爆了", True, "P1", "P1", "gas_leak"),
    ("车被水冲走了 里面有人", True, "P1", "P1", "flooding"),
    ("tree on car ppl inside", True, "P1", "P1", "fallen_tree"),
    ("大树倒了 压住一辆车 车里有人", True, "P1", "P1", "fallen_tree"),
    ("the fire was put out but smoke still everywhere", True, "P1", "P2", None),
    (
        "just wondering if the dam is cracking? there's water coming through the levee wall",
        True,
        "P1",
        "P1",
        "flooding",
    ),
    ("landslide behind our building mud coming in windows", True, "P1", "P2", None),
    ("we are not safe water coming in", True, "P1", "P2", "flooding"),
    ("我们不安全 水还在涨", True, "P1", "P2", "flooding"),
    # the same words with no one in danger
    ("我在天台晒衣服 水管爆了", True, "P3", "P4", None),
    ("the wall is cracked, it's not safe", True, "P2", "P4", None),
    ("my phone fell in the water", True, "P2", "P4", None),
    ("the hotline is not answering, water main burst", True, "P2", "P4", None),
    ("停水三天 打热线冇人应", True, "P2", "P3", "water_outage"),
    ("车被水冲走了，还好车里没人", True, "P2", "P3", "flooding"),
    ("my car is floating", True, "P2", "P3", "flooding"),
    ("today is test day for the fire alarm", False, "P4", "P4", None),
    (
        "Dialysis centre on Hill Road: are they open tomorrow? Just asking for my appointment, I'm fine.",
        True,
        "P2",
        "P4",
        "medical_access",
    ),
]


@table(DANGER_IN_CALLERS_WORDS)
def test_danger_is_found_in_the_words_callers_use(
    text: str, valid: bool, most: str, least: str, category: str | None
) -> None:
    check(text, valid, most, least, category)


DEVICES_WITHOUT_POWER: list[Row] = [
    ("my mum is on oxygen n power is out", True, "P1", "P1", "medical_access"),
    ("no power, dad needs his oxygen", True, "P1", "P1", "medical_access"),
    ("dad uses a cpap and power is off", True, "P1", "P1", "medical_access"),
    ("baby on apnea monitor no power", True, "P1", "P1", "medical_access"),
    ("停电了 家里老人吸氧 氧气瓶快没了", True, "P1", "P1", "medical_access"),
    ("停电 老人要吸氧", True, "P1", "P1", "medical_access"),
    ("my grandad on oxygen power cut 2 hours left in the tank", True, "P1", "P1", "medical_access"),
    ("oxygen running out no electricity", True, "P1", "P1", "medical_access"),
    ("老人家要用氧氣機 冇電", True, "P1", "P1", "medical_access"),
    # oxygen with the power on is not a danger by itself
    ("grandma is on oxygen, worried about the typhoon", True, "P2", "P3", "medical_access"),
    ("停电了 鱼缸氧气泵停了", True, "P3", "P3", "power_outage"),  # a fish tank's pump
    ("fish tank oxygen pump no power", True, "P3", "P3", None),
]


@table(DEVICES_WITHOUT_POWER)
def test_home_oxygen_cpap_or_an_apnoea_monitor_without_power_is_p1(
    text: str, valid: bool, most: str, least: str, category: str | None
) -> None:
    check(text, valid, most, least, category)


RISING_WATER: list[Row] = [
    ("地下室进水了 水越来越高 我妈在里面", True, "P1", "P2", "flooding"),
    ("WATER COMING IN FAST BASEMENT HELP", True, "P1", "P2", "flooding"),
    ("water rising in basement flat my dad cant walk", True, "P1", "P2", "flooding"),
    ("水涨得好快 已经到床边了", True, "P1", "P2", "flooding"),
    ("basement flat is flooding", True, "P1", "P1", "flooding"),
    # a basement nobody is in, water that is not near anyone
    (
        "Our basement flooded but nobody lives down there, we are all upstairs and safe",
        True,
        "P2",
        "P3",
        "flooding",
    ),
    ("水越来越高 我妈不在里面", True, "P2", "P3", "flooding"),
    ("水涨得好快", True, "P2", "P3", "flooding"),
]


@table(RISING_WATER)
def test_rising_water_with_someone_in_it_is_a_danger(
    text: str, valid: bool, most: str, least: str, category: str | None
) -> None:
    check(text, valid, most, least, category)


LIFTS: list[Row] = [
    ("lift stuck between floors with my mum", True, "P1", "P1", "other"),
    ("elevator broke down with us inside", True, "P1", "P1", "other"),
    ("电梯停了 里面有人", True, "P1", "P1", "other"),
    ("trappd in lift", True, "P1", "P1", "other"),
    ("stuk in elevator 2hrs", True, "P1", "P1", "other"),
    ("elevater stuck ppl inside", True, "P1", "P1", "other"),
    ("lift stopped between floors 2 ppl inside no phone signal", True, "P1", "P1", "other"),  # not telecom
    ("关在电梯里了 停电了", True, "P1", "P1", "power_outage"),
    # nobody inside
    ("电梯停了 里面没有人", True, "P2", "P4", "other"),
    ("lift stopped, nobody inside", True, "P2", "P4", "other"),
    ("lift stopped no people inside", True, "P2", "P4", "other"),
    ("nobody trapped, lift stopped empty", True, "P2", "P4", "other"),
    ("停电 电梯停咗 阿婆喺18楼落唔到嚟", True, "P2", "P2", "power_outage"),
]


@table(LIFTS)
def test_people_in_a_stopped_lift_are_trapped_and_filed_with_lifts(
    text: str, valid: bool, most: str, least: str, category: str | None
) -> None:
    check(text, valid, most, least, category)


MISSING_IN_A_FLOOD: list[Row] = [
    ("my son is missing in the flood", True, "P1", "P1", "flooding"),
    ("cant find my daughter after the flood", True, "P1", "P1", "flooding"),
    ("my family is ok but neighbour's kid is missing in the water", True, "P1", "P1", "flooding"),
    ("我個仔唔見咗 水好大", True, "P1", "P1", "flooding"),
    ("仔仔俾水冲走咗", True, "P1", "P1", "flooding"),
    ("old lady next door not answering, water up to her windows", True, "P1", "P1", "flooding"),
    ("阿婆自己住 水浸到窗 冇人應", True, "P1", "P1", "flooding"),
    # no person, or no flood
    ("the dog is missing after the flood", True, "P2", "P3", "flooding"),
    ("missing information about the flood", True, "P2", "P4", None),
    ("my son is missing school because of the water cut", True, "P2", "P4", "water_outage"),
    ("我妈找不到水喝", False, "P4", "P4", None),  # 水 to drink is no flood
    ("停水 阿婆冇人应", True, "P2", "P3", "water_outage"),
    ("my mum is not answering her phone, the water is off", True, "P2", "P3", "water_outage"),
]


@table(MISSING_IN_A_FLOOD)
def test_a_person_missing_in_a_flood_is_a_danger(
    text: str, valid: bool, most: str, least: str, category: str | None
) -> None:
    check(text, valid, most, least, category)


CRIES_FOR_HELP: list[Row] = [
    ("救命", True, "P2", "P2", None),
    ("help", True, "P2", "P2", None),
    ("sos", True, "P2", "P2", None),
    ("SOS SOS SOS SOS", True, "P2", "P2", None),
    ("please help!!", True, "P2", "P2", None),
    ("help, no power for 2 days", True, "P2", "P2", "power_outage"),
    ("水浸屋企 😭😭 救命", True, "P1", "P1", "flooding"),
    # "help" inside a request, a life-saving medicine, laughter, a link: no floor
    ("Can you help me find out when power returns", True, "P3", "P3", "power_outage"),
    ("please help us get sandbags", True, "P3", "P4", None),
    ("救命药吃完了", True, "P2", "P3", "medical_access"),
    ("help help help lol", True, "P3", "P4", None),
    ("URGENT!!!! BUY CHEAP VIAGRA www.xx.com help", True, "P3", "P4", None),
]


@table(CRIES_FOR_HELP)
def test_a_cry_for_help_is_called_back_within_the_hour(
    text: str, valid: bool, most: str, least: str, category: str | None
) -> None:
    check(text, valid, most, least, category)


def test_a_cry_for_help_says_why_it_is_p2() -> None:
    factors = {f["name"]: f for f in judge(ComplaintFacts("救命"), rules=RULES).assessment.factors}
    assert factors["cry_for_help"]["weight"] == 10 and factors["cry_for_help"]["evidence"] == ["救命"]


SHORT_COMPLAINTS: list[Row] = [
    ("停电", True, "P3", "P3", "power_outage"),
    ("断电", True, "P3", "P3", "power_outage"),
    ("停水", True, "P3", "P3", "water_outage"),
    ("水淹", True, "P3", "P3", "flooding"),
    ("积水", True, "P3", "P3", "flooding"),
    ("停電", True, "P3", "P3", "power_outage"),
    # still too short or no facts
    ("喂喂", False, "P4", "P4", None),
    ("你好", False, "P4", "P4", None),
    ("ok", False, "P4", "P4", None),
    ("什么", False, "P4", "P4", None),
]


@table(SHORT_COMPLAINTS)
def test_a_two_character_chinese_complaint_is_a_complaint(
    text: str, valid: bool, most: str, least: str, category: str | None
) -> None:
    check(text, valid, most, least, category)


LIVE_WIRES_IN_WATER: list[Row] = [
    ("電線跌咗落水度", True, "P1", "P1", "power_outage"),
    ("electric cable fell in water kids playing", True, "P1", "P1", "power_outage"),
    ("有條電線喺水入面 仲有火花", True, "P1", "P1", "power_outage"),
    ("有人落水了，在河里挣扎", True, "P1", "P1", "flooding"),  # a person in the water stays in_water
    ("没有人落水，就是河边的护栏被冲走了，提醒一下", True, "P3", "P4", None),
]


@table(LIVE_WIRES_IN_WATER)
def test_a_live_wire_in_water_goes_to_power_and_in_water_needs_a_person(
    text: str, valid: bool, most: str, least: str, category: str | None
) -> None:
    check(text, valid, most, least, category)


def test_a_wire_in_water_is_a_live_wire_not_a_person_in_the_water() -> None:
    danger = next(f for f in judge(ComplaintFacts("電線跌咗落水度"), rules=RULES).assessment.factors
                  if f["name"] == "danger_to_life")  # fmt: skip
    assert danger["value"] == ["live_wire"]


JOKES: list[Row] = [
    ("fire fire fire jk", False, "P4", "P4", None),
    ("哈哈 救命 开玩笑的", False, "P4", "P4", None),
    ("测试 紧急 救命", False, "P4", "P4", None),
    ("just kidding, help help", False, "P4", "P4", None),
    # a take-back beside any other word, or laughter alone, never hides a danger
    ("lol the kitchen is on fire", True, "P1", "P1", None),
    ("哈哈 吓死我了 厨房着火了", True, "P1", "P1", None),
    ("i'm not kidding, my dad is not breathing", True, "P1", "P1", None),
    ("not a joke, fire in the building", True, "P1", "P1", None),
    ("测试一下系统 停电了", True, "P3", "P3", "power_outage"),
]


@table(JOKES)
def test_a_text_of_a_take_back_and_alarm_words_only_is_a_joke(
    text: str, valid: bool, most: str, least: str, category: str | None
) -> None:
    check(text, valid, most, least, category)


def test_a_take_back_alone_is_a_call_without_facts_not_a_joke() -> None:
    assert "no clear" in (judge(ComplaintFacts("test"), rules=RULES).reason or "")


@pytest.mark.parametrize(
    ("raw", "simplified"),
    [
        ("電梯困人", "电梯困人"),
        ("困𨋢", "困䢂"),  # the Cantonese lift character has a simplified form too
        ("煤氣洩漏", "煤气泄漏"),
        ("我困喺𨋢入面 停咗電", "我困喺䢂入面 停咗电"),  # 喺, 咗 are the same in both scripts
        ("停电了，家里老人", "停电了,家里老人"),  # simplified: only NFKC
        ("GAS Leak", "gas leak"),
    ],
)
def test_text_is_read_in_simplified_characters(raw: str, simplified: str) -> None:
    assert normalise(raw) == simplified


def test_only_a_text_with_a_traditional_character_is_converted() -> None:
    changes = traditional_characters()
    assert {"電", "氣", "𨋢"} <= changes
    assert not changes & set("电气停水困喺咗冇唔")  # simplified and shared Cantonese characters are not
    assert compile_term("電梯").search(normalise("电梯坏了"))  # a deployment may write a term either way


def test_a_rules_file_without_the_newer_keys_keeps_the_older_behaviour() -> None:
    raw = tomllib.loads((Path(rules_module.__file__).parent / "rules.toml").read_text(encoding="utf-8"))
    older = copy.deepcopy(raw)
    del (
        older["cry"],
        older["validity"]["cjk_weight"],
        older["validity"]["retracted"],
        older["weights"]["cry_for_help"],
        older["in_progress"],
        older["weights"]["in_progress"],
    )
    rules = parse_rules(older, load_reference(), "older.toml")
    assert judge(ComplaintFacts("救命"), rules=rules).assessment.level == "P4"
    assert not judge(ComplaintFacts("停电"), rules=rules).valid
    assert judge(ComplaintFacts("fire fire fire jk"), rules=rules).assessment.level == "P1"
    assert judge(ComplaintFacts("隔篱屋冇人 而家有两个人喺度爆格"), rules=rules).assessment.level == "P4"
    raw["validity"]["cjk_weight"] = 0
    with pytest.raises(ValueError, match="cjk_weight"):
        parse_rules(raw, load_reference(), "broken.toml")


# ---- a second review: ordinary and adversarial texts ---------------------------------------------------

TAKE_BACK_AFTER_A_NEGATION_CONFIRMS: list[Row] = [
    ("停电了 不是开玩笑 我妈要吸氧", True, "P1", "P1", "medical_access"),
    ("停電咗 唔係講笑 阿媽要吸氧", True, "P1", "P1", "medical_access"),
    ("power is out, not kidding, my dad is on oxygen", True, "P1", "P1", "medical_access"),
    ("no power this is not a test my mum uses cpap", True, "P1", "P1", "medical_access"),
    ("help help not kidding trapped in lift", True, "P1", "P1", None),  # "not" negates "kidding" only
    ("fire fire fire jk", False, "P4", "P4", None),  # an unnegated take-back still retracts
]


@table(TAKE_BACK_AFTER_A_NEGATION_CONFIRMS)
def test_a_take_back_after_a_negation_confirms_the_danger(
    text: str, valid: bool, most: str, least: str, category: str | None
) -> None:
    check(text, valid, most, least, category)


A_QUESTION_OR_NOBODY_HOME_DENIES_NOTHING: list[Row] = [
    ("棟樓塌咗 唔知有冇人困咗喺入面", True, "P1", "P1", None),  # 有冇: whether, not a denial
    ("屋企冇人煤气漏咗", True, "P1", "P1", "gas_leak"),  # nobody home does not deny a gas leak
    ("电梯停咗 冇人困住", True, "P2", "P4", "other"),  # nobody trapped still denies a trapping
]


@table(A_QUESTION_OR_NOBODY_HOME_DENIES_NOTHING)
def test_a_question_or_nobody_at_home_is_no_denial(
    text: str, valid: bool, most: str, least: str, category: str | None
) -> None:
    check(text, valid, most, least, category)


A_NEW_SUBJECT_AFTER_SAFE_IS_SOMEONE_ELSE: list[Row] = [
    ("im fine my dad is not breathing", True, "P1", "P1", None),
    ("we are ok the fire is spreading to the flat next door", True, "P1", "P1", None),
    ("我没事我老公晕倒了", True, "P1", "P1", None),
    ("everyone got out of the fire", True, "P3", "P4", None),  # one phrase: still answered
]


@table(A_NEW_SUBJECT_AFTER_SAFE_IS_SOMEONE_ELSE)
def test_a_new_subject_after_a_safe_statement_reports_another_danger(
    text: str, valid: bool, most: str, least: str, category: str | None
) -> None:
    check(text, valid, most, least, category)


# Ordinary complaints the danger terms once caught: never P1, and "P3" where not P2 either.
ORDINARY_COMPLAINTS: list[tuple[str, str]] = [
    # missing: a river or a storm is a place or a drain; 找不到 + an object is not a missing person
    ("外卖员找不到我家，因为河边的路牌坏了", "P2"),
    ("司机找不到路，河西那条路封了", "P2"),
    ("河边的路灯坏了，打电话给保安没人应", "P2"),
    ("I reported the blocked storm drain last week and they are not answering my calls", "P2"),
    ("I can't find someone to fix the storm drain on our street", "P2"),
    ("The bus driver keeps missing our stop on River Road", "P2"),
    # trapped: someone in a lift doing something, not stuck in it
    ("电梯坏了，里面有人贴了很多小广告", "P2"),
    ("电梯停了，里面有人吸烟很臭", "P2"),
    ("The lift smells because someone inside smokes", "P2"),
    ("The lift is too small and people inside get squashed every morning", "P2"),
    ("落大雨 困喺屋企 好闷", "P2"),
    # fire: place names, a safety poster, cigarette smoke, cooking fumes
    ("附近有火葬场，晚上很臭", "P2"),
    ("我家旁边有火炉山公园", "P2"),
    ("楼道贴着小心火烛，但是堆满杂物", "P2"),
    ("走廊好多烟味，有人在楼梯间抽烟", "P2"),
    ("楼下大排档好多烟", "P2"),
    ("樓下大排檔嘅油煙好大", "P2"),
    ("我家里附近的烧烤摊很吵到半夜", "P2"),  # a barbecue nearby, not indoors
    # stranded: on a roof with no water and no stranding
    ("They're drilling on the roof since 7am, very noisy", "P2"),
    ("we are having a party on the rooftop this saturday", "P2"),
    # medical device: oxygen that is nobody's treatment
    ("教室里人太多，氧气不够，很闷", "P2"),
    ("楼下水族店的鱼缸氧气不够", "P2"),
    ("停电了，五街的氧气吧关门了", "P2"),
    ("The oxygen bar on 5th street has been without power since noon", "P2"),
    ("洗肾中心的停车场好乱", "P2"),
    ("透析中心的停车场好乱", "P2"),
    # flooding in a home: a water bill, water pressure, a water heater, a phone
    ("水费越来越贵，贵到心口痛", "P2"),
    ("水压越来越低，洗头洗到腰都酸", "P2"),
    ("热水器出水很快就变冷，我妈在里面洗澡经常着凉", "P2"),
    ("我爸的手机进水了，他行动不便，请问哪里可以修", "P2"),
    ("小区燃气断供三天了，什么时候恢复", "P2"),  # a supply cut, not a leak
    # injury: 车仔面 is a noodle stall, not a son
    ("大风吹倒招牌，砸中咗楼下嘅车仔面档", "P2"),
    ("树倒了压到了楼下的车仔面档", "P2"),
    # a cry inside a complaint about noise, rubbish or a lamp is not a cry for help
    ("Please help, the streetlight outside my house has been out for a week.", "P3"),
    ("Our neighbours are noisy, sos", "P3"),
    ("救命啊 楼上装修吵死了", "P3"),
    ("救命 垃圾站好臭", "P3"),
    ("SOS SOS 你们这些废物 垃圾三天没人收", "P3"),
]


@pytest.mark.parametrize(("text", "most"), ORDINARY_COMPLAINTS, ids=[r[0] for r in ORDINARY_COMPLAINTS])
def test_an_ordinary_complaint_is_not_a_danger_to_life(text: str, most: str) -> None:
    a = judge(ComplaintFacts(text), rules=RULES).assessment
    assert a.level >= most and not a.life_threatening, (a.level, a.factors)


def test_a_cry_that_is_all_the_text_says_is_still_p2() -> None:
    # the same as "SOS SOS SOS SOS": a caller who could say nothing else is called back within the hour
    assert judge(ComplaintFacts("help help help help help"), rules=RULES).assessment.level == "P2"


@pytest.mark.parametrize(
    ("text", "evidence"),
    [
        ("lol im stuck in the lift help", ["stuck in the lift"]),
        ("haha help we're trapped in the lift", ["trapped in the lift"]),
    ],
)
def test_overlapping_danger_evidence_is_recorded_once(text: str, evidence: list[str]) -> None:
    factors = {f["name"]: f for f in judge(ComplaintFacts(text), rules=RULES).assessment.factors}
    assert factors["danger_to_life"]["evidence"] == evidence


def test_a_text_opencc_cannot_take_is_converted_around_what_it_cannot() -> None:
    assert normalise("電梯\ud800困人") == "电梯\ud800困人"
    assert judge(ComplaintFacts("\ud800煤氣洩漏"), rules=RULES).assessment.level == "P1"


# A building giving way where the caller is: turned away as "no clear facts" before (no category names a
# building), and a wall about to fall was too, though its hazard was seen. The Cantonese "cannot get out".
A_BUILDING_GIVING_WAY: list[Row] = [
    ("my house is collapsing", True, "P1", "P1", None),
    ("the building is shaking and there are cracks everywhere", True, "P1", "P1", None),
    ("building shaking cracks in the walls", True, "P1", "P1", None),
    ("the ceiling is coming down", True, "P1", "P1", None),
    ("楼在摇 墙裂了", True, "P1", "P1", None),
    ("天花板塌下来了", True, "P1", "P1", None),
    ("屋企天花冧落嚟", True, "P1", "P1", None),
    ("水越来越高 出唔到去", True, "P1", "P1", "flooding"),
    # about to give way: a person calls back, not a danger to life yet
    ("墙体开裂 随时倒塌", True, "P2", "P4", None),
    # negatives: not happening, not a building, or only old damage
    ("the roof is not collapsing, just leaking", False, "P4", "P4", None),
    ("prices are collapsing", False, "P4", "P4", None),
    ("the old building has cracks in the wall", True, "P3", "P4", None),
]


@table(A_BUILDING_GIVING_WAY)
def test_a_building_giving_way_where_the_caller_is(
    text: str, valid: bool, most: str, least: str, category: str | None
) -> None:
    check(text, valid, most, least, category)
