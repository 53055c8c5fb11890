"""The pure triage rules, table by table."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from events.reference import load_reference
from services.triage import explain
from services.triage.incidents import centre, incident_title
from services.triage.lexicon import compile_term, normalise
from services.triage.rules import expand_term, load_rules, parse_rules
from services.triage.scoring import ComplaintFacts, Context, classify, judge, score

RULES = load_rules()


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("停电了，整栋楼没电", "power_outage"),
        ("No running water since this morning", "water_outage"),
        ("I can smell gas in the stairwell", "gas_leak"),
        ("手机没有信号", "telecom_outage"),
        ("山体滑坡，路被堵死了", "road_blocked"),
        ("小区门口积水很深", "flooding"),
        ("大树被台风刮倒了", "fallen_tree"),
        ("The evacuation centre is full", "shelter"),
        ("救灾物资在哪里领取", "relief_supplies"),
        ("Ambulance can't reach us, need a doctor", "medical_access"),
        ("接线员态度很差，挂了我电话", "staff_attitude"),
        ("问了三个部门都不归他们管，到底找谁", "unclear_process"),
        ("补偿标准不公平，凭什么", "unfair_policy"),
        ("Nobody told us anything, no update for days", "no_information"),
        ("隔壁工地噪音很大", "other"),
        ("停电了，我爸的制氧机停了", "medical_access"),
        ("Electricity restored but internet still down", "telecom_outage"),
    ],
)
def test_classify_picks_the_category_the_text_is_about(text: str, category: str) -> None:
    assert classify(text, RULES)[0] == category


@pytest.mark.parametrize(
    "text",
    [
        "救命！我们被困在二楼",
        "I can smell gas and hear hissing from the pipe",
        "厨房着火了",
        "家里进水了，已经淹到膝盖",
        "Water is pouring into our ground floor flat",
        "My father's oxygen concentrator stopped when the power went",
        "高压线被风吹断掉在马路上",
        "A man was swept away by the flood",
        "My husband has chest pain and the ambulance has not come",
        "There's a crack in the dam wall, water seeping through",
        # collapse with someone under it or still inside
        "房子塌了，邻居还在里面",
        "围墙倒了，压住了一个路人",
        "老楼倒塌了，有人被埋在废墟里",
        "The roof caved in and two workers are buried under it",
        "The garage wall collapsed on a man walking past",
        # someone fell into a drain, a manhole or the current
        "有个小孩掉进下水道了",
        "一个路人掉进窨井里了",
        "A child fell into the storm drain",
        "Someone fell down an uncovered manhole",
        "老人在河边被洪水冲走了",
        # carbon monoxide, generator fumes
        "停电后在屋里开发电机，一家人一氧化碳中毒",
        "楼上一家人煤气中毒了",
        "We ran a generator indoors and now have carbon monoxide poisoning symptoms",
        "Generator fumes are coming into the flat and the kids feel dizzy",
        # people on roofs or stranded by the flood
        "洪水冲进村子，很多人爬到屋顶上",
        "Three families are stranded on the roof of the school",
        # someone who cannot move while the water rises
        "我妈妈八十多岁，摔倒了起不来，水已经淹到床边了",
        "奶奶卧床动不了，屋里的水越来越深",
        "My bedridden husband can't get up and the water is rising in the bedroom",
        # live wire in water, electrocution
        "电线掉在水里了，有人在旁边蹚水",
        "A man was electrocuted by a live wire in the flooded street",
        # fire or smoke with people inside
        "楼道里全是烟，还有老人在屋里没出来",
        "Our neighbour's house is on fire and the children are still inside",
        # unconscious, not breathing, bleeding heavily
        "有人昏迷了，叫他没反应",
        "路人被玻璃划伤，大出血",
        "My father is unresponsive and not breathing properly",
        # families, not single strings: words between a verb and its object, a person + a harm
        "小孩在路边玩，掉进没有盖子的沙井里了",
        "她被洪水卷进了下水道",
        "A boy was swept into the storm drain near the school",
        "Part of the building's facade fell off and landed on a man walking below",
        "The tree came down on top of two pedestrians on Hill Road",
        "路边大树倒下来，砸中一个骑车的大叔",
        "他被树枝砸到了头，流了好多血",
        "The porch roof caved in and my grandmother is underneath it",
        # water against a person or a bed
        "My dad is bedridden and the flood water is now at the level of his mattress",
        "The water is at chest height in the living room and my mum can't swim",
        "洪水已经淹到我家床上了",
        "水已经到我爸胸口了",
        # vehicles in the water with people in them
        "The river burst its banks and there are cars with people in them floating down the street",
        "An SUV was swept off the flooded bridge with a family inside",
        "面包车被洪水冲进河里了",
        # the way out is gone
        "地震后楼梯塌了，我们一家在五楼下不去",
        "The staircase collapsed after the quake and we can't get down from the 4th floor",
    ],
)
def test_danger_to_life_forces_p1(text: str) -> None:
    assessment = score(ComplaintFacts(text), rules=RULES)
    assert assessment.level == "P1" and assessment.life_threatening
    assert any(f["name"] == "danger_to_life" for f in assessment.factors)


@pytest.mark.parametrize(
    "text",
    [
        "No danger, just asking when power returns",
        "The gas smell from yesterday is gone.",
        "没有人被困，只是路被树挡住了",
        "If there is a gas leak what number should I call?",
        "上次的火灾已经扑灭了，想问一下补助怎么申请",
        "Smoke from the neighbour's barbecue is annoying",
        "The firefighters already put out the fire, everyone is safe",
        "房子被淹了想申请补助，到底找谁？",
        "No one is trapped, the lift works again",
        "没有人被困，电梯已经修好了",
        "没有危险，就是想问问倒塌的围墙什么时候重建",
        "The wall next to the playground looks like it might fall someday",
        "隔壁的发电机晚上太吵了，睡不着",
        "Generator noise at night from the building site is annoying",
        "请问停电时怎么安全使用发电机？防范一氧化碳中毒",
        "下水道井盖不见了，没有人掉进去，请尽快补上",
        "没有人落水，就是河边的护栏被冲走了，提醒一下",
        "信号塔倒了，砸到了旁边的房子，没有人受伤",
        "Everyone on the roofs has been rescued, the water has gone down now",
        "Nobody is still inside, everyone got out of the fire",
    ],
)
def test_negated_past_or_hypothetical_danger_does_not_raise_priority(text: str) -> None:
    assessment = score(ComplaintFacts(text), rules=RULES)
    assert not assessment.life_threatening
    assert assessment.level in ("P3", "P4")


@pytest.mark.parametrize(
    "text",
    [
        # the danger families above, with no person in danger (some are still P2: an elderly person stuck)
        "How do I stay safe from carbon monoxide when using a generator during the power cut? Just asking.",
        "The shop sign fell off and landed on the pavement, luckily no one was there",
        "The wall fell on my neighbour's car, nobody was inside",
        "The tree fell on a man's car parked outside",
        "钥匙掉进没有盖子的沙井里了",
        "他家的车被树砸了",
        "车被水冲走了，还好车里没人",
        "Cars floating in the underground car park, all empty",
        "停电导致电梯停了，我们家老人在18楼下不来",
        "楼梯坏了一级，老人下楼不方便",
        "Water is up to the wheel arches in the car park",
        "The old man under the bridge asked for blankets",
        "可能会砸到人，请尽快处理",
    ],
)
def test_a_danger_family_needs_a_person_in_danger(text: str) -> None:
    assessment = score(ComplaintFacts(text), rules=RULES)
    assert not assessment.life_threatening and assessment.level != "P1"


@pytest.mark.parametrize(
    ("facts", "context", "factor", "points"),
    [
        (ComplaintFacts("停电了", vulnerable=("elderly",)), Context(), "vulnerable", 20),
        (ComplaintFacts("停电了，家里有孕妇和婴儿"), Context(), "vulnerable", 23),
        (ComplaintFacts("救命，停电了"), Context(), "distress", 8),
        (ComplaintFacts("停电了", media_exposure=True), Context(), "media_exposure", 15),
        (ComplaintFacts("停电了"), Context(repeated_calls=5), "repeated_calls", 18),
        (ComplaintFacts("停电了"), Context(cluster_size=12), "cluster", 15),
        (ComplaintFacts("整栋楼停电了"), Context(), "people_affected", 20),
        (ComplaintFacts("No water for 40 households"), Context(), "people_affected", 20),
        (ComplaintFacts("停电两天了"), Context(), "prolonged", 20),
        (ComplaintFacts("Power out since last night"), Context(), "prolonged", 8),
        (ComplaintFacts("停电了"), Context(minutes_waited=70, accept_within_minutes=60), "waited", 15),
        (ComplaintFacts("请问什么时候来电？不急"), Context(), "calm", -15),
    ],
)
def test_each_factor_adds_its_weight_and_says_why(
    facts: ComplaintFacts, context: Context, factor: str, points: int
) -> None:
    factors = {f["name"]: f for f in score(facts, context, RULES).factors}
    assert factors[factor]["weight"] == points
    assert set(factors[factor]) == {"name", "weight", "value", "evidence"}
    assert factors[factor]["evidence"]


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("停电了", "P3"),
        ("停电两天了，家里有80岁老人", "P2"),
        ("请问老城区什么时候恢复供电？不急", "P4"),
        ("接线员态度很差", "P4"),
    ],
)
def test_levels_follow_the_thresholds(text: str, level: str) -> None:
    assert score(ComplaintFacts(text), rules=RULES).level == level


@pytest.mark.parametrize(
    ("facts", "valid", "reason"),
    [
        (ComplaintFacts("喂喂喂"), False, "no clear"),
        (ComplaintFacts("test"), False, "no clear"),
        (ComplaintFacts("everything is bad"), False, "no clear"),
        (ComplaintFacts("台风把我的伞吹跑了哈哈哈"), False, "joke"),
        (ComplaintFacts("Power outage at my house", lat=23.3, lon=113.2), False, "outside"),
        (ComplaintFacts("Trapped in the car park, water rising", lat=23.3, lon=113.2), False, "110/119"),
        (ComplaintFacts("停电了"), True, None),
        (ComplaintFacts("救命"), True, None),
    ],
)
def test_validity_rejects_vague_jokes_and_outside_the_area(
    facts: ComplaintFacts, valid: bool, reason: str | None
) -> None:
    verdict = judge(facts, rules=RULES)
    assert verdict.valid is valid
    if reason:
        assert reason in (verdict.reason or "")


def test_explain_prints_one_json_line_per_body_with_the_workers_rules() -> None:
    bodies = [
        {"channel": "web", "description": "家里进水了，水已经到膝盖", "location": {"lat": 22.5, "lon": 113.8},
         "people_affected": 2, "vulnerable": ["elderly"], "media_exposure": False},
        {"channel": "hotline", "description": "No danger, just asking when power returns"},
    ]  # fmt: skip
    stdin = io.StringIO("\n".join(json.dumps(b) for b in bodies) + "\nnot json\n")
    stdout = io.StringIO()
    assert explain.main(stdin, stdout) == 1
    first, second, bad = (json.loads(line) for line in stdout.getvalue().splitlines())
    assert (first["level"], first["category"]) == ("P1", "flooding")
    assert {"level", "score", "category", "factors"} <= set(first)
    assert second["level"] == "P4"
    assert bad["line"] == 3 and "error" in bad


def test_a_rules_file_missing_a_category_is_refused_at_load(tmp_path: Path) -> None:
    import tomllib

    raw = tomllib.loads((Path(explain.__file__).parent / "rules.toml").read_text(encoding="utf-8"))
    del raw["categories"]["shelter"]
    with pytest.raises(ValueError, match="shelter"):
        parse_rules(raw, load_reference(), "broken.toml")


@pytest.mark.parametrize(
    ("where", "term"),
    [
        ("distress.terms", "(?i)救命"),
        ("categories.shelter.strong", "(unclosed"),
        ("access.terms", "(?i)stuck"),
    ],
)
def test_a_rules_file_with_a_term_triage_cannot_use_is_refused_at_load(where: str, term: str) -> None:
    """A global flag alone compiles, but not in the alternation a group is first searched with: left in,
    it would fail every complaint at triage instead of the deployment at start."""
    import tomllib

    raw = tomllib.loads((Path(explain.__file__).parent / "rules.toml").read_text(encoding="utf-8"))
    *path, key = where.split(".")
    table = raw
    for name in path:
        table = table[name]
    table[key] = [*table[key], term]
    with pytest.raises(ValueError, match=re.escape(repr(term))):
        parse_rules(raw, load_reference(), "broken.toml")


def test_a_gap_in_a_term_stays_inside_one_clause() -> None:
    term = compile_term(expand_term("掉进{gap:10}(沙井|窨井)", {}))
    assert term.search(normalise("掉进没有盖子的沙井"))
    assert not term.search(normalise("掉进去了，旁边有个沙井"))  # a comma ends the clause
    assert not term.search(normalise("掉进去了。旁边有个沙井"))
    assert not term.search(normalise("掉进了一个很深很深很深很深的沙井"))  # more than 10 characters between
    english = compile_term(expand_term("fell{gap:20}drain", {}))
    assert english.search("fell into the drain") and not english.search("fell. the drain")


def test_a_term_names_a_set_of_words() -> None:
    sets = {"who": ["man", "woman"]}
    assert expand_term("fell on a {who}", sets) == "fell on a (?:man|woman)"
    assert expand_term("压在.{0,4}下", sets) == "压在.{0,4}下"  # a regex quantifier is left alone
    with pytest.raises(ValueError, match="unknown set"):
        expand_term("{nobody}", sets)


def test_a_rules_file_naming_an_unknown_set_is_refused_at_load() -> None:
    import tomllib

    raw = tomllib.loads((Path(explain.__file__).parent / "rules.toml").read_text(encoding="utf-8"))
    raw["danger"]["trapped"]["terms"].append("{no_such_set} trapped")
    with pytest.raises(ValueError, match="no_such_set"):
        parse_rules(raw, load_reference(), "broken.toml")


def _rules_with_extra_danger_term(tmp_path: Path, term: str) -> Path:
    """A deployment's copy of the packaged rules with one more "trapped" term."""
    packaged = (Path(explain.__file__).parent / "rules.toml").read_text(encoding="utf-8")
    path = tmp_path / "rules.toml"
    path.write_text(with_trapped_term(packaged, term), encoding="utf-8")
    return path


def with_trapped_term(rules_text: str, term: str) -> str:
    """`rules_text` with `term` first among [danger.trapped]'s terms."""
    at = rules_text.index("terms = [", rules_text.index("[danger.trapped]")) + len("terms = [")
    return f'{rules_text[:at]}"{term}", {rules_text[at:]}'


CRANE = {"channel": "hotline", "description": "A crane toppled over onto the road next to the school"}


def test_a_replaced_rules_file_classifies_by_its_own_terms(tmp_path: Path) -> None:
    path = _rules_with_extra_danger_term(tmp_path, "crane toppled")
    packaged = score(ComplaintFacts(CRANE["description"]), rules=RULES)
    replaced = score(ComplaintFacts(CRANE["description"]), rules=load_rules(path, load_reference()))
    assert not packaged.life_threatening and packaged.level != "P1"
    assert replaced.life_threatening and replaced.level == "P1"


@pytest.fixture
def cli_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`levee` configures logging for its whole process: a level filter, loggers cached on first use, the root
    handler. Run in the test process, that would outlive the test, and later tests capturing log lines (as
    test_intake's "no personal data in any log line" does) would see none. Nothing is cached, and the rest is
    put back."""
    configure = structlog.configure
    monkeypatch.setattr(
        structlog, "configure", lambda **kw: configure(**{**kw, "cache_logger_on_first_use": False})
    )
    previous = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    configure(**previous)
    structlog.contextvars.clear_contextvars()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("cli_logging")
@pytest.mark.parametrize("how", ["flag", "environment"])
def test_levee_triage_explain_uses_the_rules_file_it_is_given(
    how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from services import cli

    path = _rules_with_extra_danger_term(tmp_path, "crane toppled")
    environ = {"LEVEE_DATA_DIR": str(tmp_path / "data"), "LEVEE_LOG_LEVEL": "error"}
    argv = ["triage", "explain"]
    if how == "flag":
        argv += ["--rules", str(path)]
    else:
        environ["LEVEE_TRIAGE_RULES"] = str(path)
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(CRANE) + "\n"))
    assert cli.main(argv, environ) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["level"] == "P1"


@pytest.mark.usefixtures("cli_logging")
def test_levee_triage_explain_refuses_a_rules_file_that_is_not_there(tmp_path: Path) -> None:
    from services import cli

    with pytest.raises(SystemExit) as stopped:
        cli.main(["triage", "explain", "--rules", str(tmp_path / "missing.toml")], {})
    assert stopped.value.code == 2


@pytest.mark.usefixtures("cli_logging")
@pytest.mark.parametrize("broken", ['version = "x"\n[levels\n', 'version = "x"\n[levels]\nP1 = "high"\n'])
def test_levee_triage_explain_says_in_one_line_why_a_rules_file_is_refused(
    broken: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A review that ran the runbook got a crash's traceback for a rules file with a typo in it."""
    from services import cli

    path = tmp_path / "rules.toml"
    path.write_text(broken, encoding="utf-8")
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(CRANE) + "\n"))
    environ = {"LEVEE_DATA_DIR": str(tmp_path / "data")}
    assert cli.main(["triage", "explain", "--rules", str(path)], environ) == 1
    said = capsys.readouterr()
    text = said.out + said.err
    assert "triage_rules_refused" in text and str(path) in text
    assert "Traceback" not in text and "levee_crashed" not in text


@pytest.mark.parametrize(
    ("category", "district", "where", "title"),
    [
        ("power_outage", "old_town", None, "Power outage in Old Town · 老城区停电"),
        # Old Town spans 22.40-22.65 N, 114.05-114.225 E: the ninth its reports' centre lies in.
        ("power_outage", "old_town", (22.52, 114.12), "Power outage in Old Town (centre) · 老城区中部停电"),
        (
            "power_outage",
            "old_town",
            (22.63, 114.085),
            "Power outage in Old Town (north-west) · 老城区西北部停电",
        ),
        ("flooding", "old_town", (22.41, 114.22), "Flooding in Old Town (south-east) · 老城区东南部内涝积水"),
        ("power_outage", "", (22.52, 114.12), "Power outage · 停电"),
        ("no_such_category", "old_town", None, "no_such_category in old_town"),
    ],
)
def test_an_incident_triage_declares_is_titled_in_words(
    category: str, district: str, where: tuple[float, float] | None, title: str
) -> None:
    ref = load_reference()
    if category in {c.code for c in ref.categories}:  # the names come from the reference data
        cat = ref.category(category)
        assert cat.name_en in title and cat.name_zh in title
    assert incident_title(category, district, where) == title


def test_two_incidents_of_one_kind_in_one_district_are_told_apart_by_where_their_reports_are() -> None:
    reports = [{"lat": 22.62, "lon": 114.07}, {"lat": 22.64, "lon": 114.09}, {"lat": None, "lon": None}]
    assert centre(reports) == pytest.approx((22.63, 114.08))
    assert centre([{"lat": None, "lon": None}]) is None
    north_west = incident_title("power_outage", "old_town", centre(reports))
    middle = incident_title("power_outage", "old_town", centre([{"lat": 22.52, "lon": 114.12}]))
    assert north_west != middle
    # A centre a little outside the district's box (reports at its edge) still names the nearest ninth.
    assert load_reference().district("old_town").bbox.part(22.70, 114.30) == ("north-east", "东北部")


def test_an_incident_is_named_from_the_deployments_reference_data() -> None:
    packaged = load_reference()
    renamed = dataclasses.replace(
        packaged,
        districts=tuple(
            dataclasses.replace(d, name_en="Old Harbour") if d.code == "old_town" else d
            for d in packaged.districts
        ),
    )
    assert (
        incident_title("power_outage", "old_town", None, renamed)
        == "Power outage in Old Harbour · 老城区停电"
    )
