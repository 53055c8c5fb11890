"""Texts as real callers write them, third review: the misses the second review left (a hazard over a crowd, a
family shut out of a full shelter, old people in the heat without power, a break-in with no one at home), each
with the negatives that keep its fix from raising false alarms.

One row per text: text -> valid, the most and the least urgent level allowed, category (None: any), as in
test_real_callers.py. Levels are what a careful duty officer gives by DOMAIN.md and the labelling guide in
docs/triage.md; a range says the guide allows both, and a comment says why.
"""

from __future__ import annotations

import pytest

from services.triage.scoring import ComplaintFacts, judge
from tests.unit.triage.test_real_callers import RULES, Row, check, table

# A hazard (something about to give way) over a place where many people wait, pass or gather is P2: the people
# under it count whatever its category. One that is falling now onto people is P1 (as before).
HAZARD_OVER_A_CROWD: list[Row] = [
    ("巴士站上面的广告牌被风吹得一直摇 好多人在下面等车", True, "P2", "P2", "other"),
    (
        "你好 我系荃湾路巴士站这里 个广告牌俾风吹到就快跌落嚟 好多人等车 唔该快啲派人嚟",
        True,
        "P2",
        "P2",
        "other",
    ),
    ("學校門口嘅棚架鬆咗 一直搖 啲家長同細路喺下面等", True, "P2", "P2", "other"),
    ("幼稚園門口棚架搖緊 啲家長喺下面等放學", True, "P2", "P2", "other"),
    ("菜市场门口的招牌快掉下来了 下面人来人往", True, "P2", "P2", "other"),
    ("学校门口那个大铁皮广告牌被风吹得哐哐响 快掉下来了 放学时间好多学生", True, "P2", "P2", "other"),
    ("街市入口上面块铁皮檐篷松咗 风一吹就响 好多阿婆喺下面买菜", True, "P2", "P2", "other"),
    ("菜市场屋顶的铁皮被风掀起来了 一直在晃 下面还有人在买菜", True, "P2", "P2", "other"),
    ("商场门口玻璃幕墙裂了 随时掉下来 门口好多人排队", True, "P2", "P2", "other"),
    ("玻璃幕墙裂了 随时会掉 在商场门口", True, "P2", "P2", "other"),
    ("醫院門口嘅招牌搖搖欲墜 下面成日有人行過", True, "P2", "P2", "other"),  # the sign's, not medical access
    ("喂你好 我在地铁站出口 上面的脚手架一直在晃 很多人进出 麻烦快点派人", True, "P2", "P2", "other"),
    ("公交站旁边那棵大树歪了 随时会倒 下面都是等车的人", True, "P2", "P2", "fallen_tree"),
    (
        "the billboard above the bus stop on Harbour Rd is swinging loose and people are waiting under it",
        True,
        "P2",
        "P2",
        "other",
    ),
    ("scaffolding next to the school gate is hanging loose, kids come out at 4", True, "P2", "P2", "other"),
    (
        "hi, calling about the scaffolding on Queen's Rd outside the wet market, bamboo poles swinging in the "
        "wind, people walking underneath, thanks",
        True,
        "P2",
        "P2",
        "other",
    ),
    (
        "the glass canopy over the MTR exit is cracked and shaking, crowds going in and out",
        True,
        "P2",
        "P2",
        "other",
    ),
    ("there's a huge sign hanging by one bolt over the bus stop on Nathan Rd", True, "P2", "P2", "other"),
    (
        "Loose sign over the market entrance, could fall on someone, lots of shoppers",
        True,
        "P2",
        "P2",
        "other",
    ),
    (
        "traffic light pole leaning over the crossing outside the primary school, could come down any minute",
        True,
        "P2",
        "P2",
        None,
    ),
    # falling now onto people: a danger to life
    ("正在掉玻璃 下面好多人", True, "P1", "P1", None),
    (
        "glass keeps dropping from the tower onto the pavement below where people are walking",
        True,
        "P1",
        "P1",
        None,
    ),
    # over, hypothetical, nobody there, someone else's city, a joke
    ("巴士站的广告牌昨天被吹歪了 今天已经拆走了", True, "P4", "P4", "other"),
    ("昨天巴士站那个广告牌很危险 今天工人已经拆走了 谢谢你们", True, "P4", "P4", "other"),
    ("昨天学校门口的棚架一直在晃 今天已经加固好了", True, "P4", "P4", "other"),
    ("學校門口個招牌搖咗成晚 宜家冇事喇", True, "P4", "P4", "other"),
    ("the billboard by the bus stop was swinging yesterday, today it is fine", True, "P4", "P4", "other"),
    ("市场门口的招牌被吹掉了 已经有人清理了", True, "P4", "P4", "other"),
    ("学校门口的树昨晚倒了 已经清理好了 谢谢", True, "P4", "P4", "fallen_tree"),
    ("如果巴士站的广告牌掉下来怎么办", True, "P4", "P4", "other"),
    ("广告牌会不会被台风吹下来啊 我们住在巴士站旁边 有点担心", True, "P4", "P4", "other"),
    ("上个月台风的时候 街市门口的招牌掉下来过 这次会不会又掉", True, "P4", "P4", "other"),
    ("is it safe to wait at the bus stop under the billboard during a typhoon?", True, "P4", "P4", "other"),
    ("学校门口的棚架有点旧 想问谁负责检查", True, "P4", "P4", "other"),
    ("the billboard at the bus stop is ugly and blocks the view", True, "P4", "P4", "other"),
    (
        "the sign over the bus stop isn't loose, just old and rusty, can someone repaint it",
        True,
        "P4",
        "P4",
        "other",
    ),
    # a hazard with nobody under it is P3, as before
    (
        "scaffolding swinging in the wind on an empty construction site, nobody around",
        True,
        "P3",
        "P3",
        "other",
    ),
    (
        "scaffolding outside the school gate is swinging, no one around since school is closed for the typhoon",
        True,
        "P3",
        "P3",
        "other",
    ),
    # a junction empty now and busy in the morning: P2 before the rush or P3; the rules say P3
    ("广告牌快掉了 路口没什么人 但明天早上上班的人多", True, "P2", "P3", "other"),
    ("招牌掉下来了 砸到一辆空车 还好没人受伤", True, "P3", "P4", "other"),  # fell already, nobody hurt
    ("城西那边的公交站广告牌倒了 新闻上看到的 我们这边没事", True, "P4", "P4", "other"),
    ("billboard fell at a bus stop in another city on the news, scary", True, "P4", "P4", "other"),
    ("哈哈 我们学校门口的保安大叔被风吹得东倒西歪", False, "P4", "P4", None),  # a joke
]


@table(HAZARD_OVER_A_CROWD)
def test_a_hazard_over_a_crowd_is_p2(
    text: str, valid: bool, most: str, least: str, category: str | None
) -> None:
    check(text, valid, most, least, category)


# Turned away from a full or locked shelter, or out in the storm with nowhere to go, is shut out of shelter:
# P2 (access), whoever is with them; inside, crowded or a question is not.
SHUT_OUT_OF_SHELTER: list[Row] = [
    ("安置点说满了不让进 我们一家五口带着两个小孩在外面淋雨 天都黑了", True, "P2", "P2", "shelter"),
    ("避難中心話爆滿唔俾入 我哋一家人喺門口 落緊大雨", True, "P2", "P2", "shelter"),
    ("避难所不让我们进去 说没位置了 外面台风 我们没地方去", True, "P2", "P2", "shelter"),
    ("去咗三个安置点都话满 而家喺街度 仲打紧风", True, "P2", "P2", "shelter"),
    ("避难所门口还有二十多个人进不去 在外面淋雨", True, "P2", "P2", "shelter"),
    ("避难所说没床位了 让我们明天再来 今晚睡哪", True, "P2", "P2", "shelter"),
    ("我们被安置点拒之门外 说只收本区的 外面风雨很大 还有个八十岁的老人", True, "P2", "P2", "shelter"),
    ("喂 體育館避難中心爆晒 職員叫我哋自己諗辦法 而家成家人喺巴士站瞓", True, "P2", "P2", "shelter"),
    (
        "the evacuation centre on Hill Rd turned us away, full. we're outside in the rain with a baby, nowhere to go",
        True,
        "P2",
        "P2",
        "shelter",
    ),
    (
        "shelter is full, they told us to go somewhere else, its 11pm and the wind is crazy, my mum is 80",
        True,
        "P2",
        "P2",
        "shelter",
    ),
    (
        "shelter at the school won't take us, full, we have been walking for an hour in the storm",
        True,
        "P2",
        "P2",
        "shelter",
    ),
    (
        "the community hall shelter is locked, nobody there, we are standing outside with kids in the rain",
        True,
        "P2",
        "P2",
        "shelter",
    ),
    ("shelter turned us away because we have a dog, we are sleeping in the car", True, "P2", "P2", "shelter"),
    ("避难所没有水 好多小朋友", True, "P2", "P2", "shelter"),  # many children: many people
    # crowded inside, a question, over, thanks, another city, rude staff
    ("避难所人太多 有点挤 晚上睡不好", True, "P3", "P4", "shelter"),  # a shelter's base alone is P3
    ("想问下附近哪个避难所还有位", True, "P4", "P4", "shelter"),
    ("昨晚避难所满了 后来社工帮我们找到另一个 现在没事了", True, "P4", "P4", "shelter"),
    # P4 by the guide; 昨晚 reads as a night-long problem and 后来进去了 is no resolution word
    ("我们昨晚在避难所门口等了一会 后来进去了 谢谢工作人员", True, "P3", "P4", "shelter"),
    # P4 by the guide (not here); the shelter's base and access less calm leave it P3
    (
        "heard a shelter in another city turned people away, hope that doesn't happen here",
        True,
        "P3",
        "P4",
        "shelter",
    ),
    ("shelter staff were rude when we arrived but we are inside now", True, "P4", "P4", "staff_attitude"),
]


@table(SHUT_OUT_OF_SHELTER)
def test_a_family_shut_out_of_shelter_in_the_storm_is_p2(
    text: str, valid: bool, most: str, least: str, category: str | None
) -> None:
    check(text, valid, most, least, category)


# No air conditioning in the heat is what a power cut means to the old, babies and the sick: a complaint even
# with no other word (it was refused as "no clear facts"), P2 with someone vulnerable; a heat stroke or
# breathlessness happening is P1 (as before), the risk of one is not.
HEAT_WITHOUT_POWER: list[Row] = [
    (
        "elderly at risk of heat stroke, no power no AC, it's 35 degrees in the flat",
        True,
        "P2",
        "P2",
        "power_outage",
    ),
    ("no aircon, really hot, my elderly dad at risk of heat stroke", True, "P2", "P2", "power_outage"),
    ("家里没空调 太热了 老人有中暑风险", True, "P2", "P2", "power_outage"),
    ("屋企冇冷气 好焗 阿爷成日话头晕", True, "P2", "P2", "power_outage"),
    ("停电两天了 没空调 家里老人热得受不了 怕中暑", True, "P2", "P2", "power_outage"),
    ("停電冇冷氣 屋企90歲阿嫲熱到好辛苦", True, "P2", "P2", "power_outage"),
    ("冇電冇冷氣 屋企有個BB 熱到成身紅晒 一直喊", True, "P2", "P2", "power_outage"),
    ("停电 好热 我爸刚做完手术 伤口一直出汗", True, "P2", "P2", "power_outage"),
    (
        "no power since yesterday, my grandparents are in their 80s and the flat is like an oven",
        True,
        "P2",
        "P2",
        "power_outage",
    ),
    (
        "power's been out 2 days, no aircon, my 90 yo grandma is lethargic and not drinking",
        True,
        "P2",
        "P2",
        "power_outage",
    ),
    ("the old lady in 5B has no fan no AC since the blackout, she sounds confused", True, "P2", "P2", None),
    ("停电第三天 没冷气 我妈八十多了 一直说透不过气", True, "P1", "P1", None),
    # the risk alone (no where, no what: the second review's row), a repair, bearable, a joke, over, a notice
    ("elderly at risk of heat stroke", False, "P4", "P4", None),
    ("停电了 家里有点热 不过还能忍", True, "P3", "P3", "power_outage"),
    ("停电了好热 睡不着", True, "P3", "P4", "power_outage"),
    ("来电了 空调开了 老人没事了", True, "P4", "P4", "power_outage"),
    ("空调冇冷气 系咪要加雪种 唔该", False, "P4", "P4", None),  # a private repair: no target of the city's
    ("天气热 空调坏了 想问维修电话", False, "P4", "P4", None),
    ("no AC in the office, so hot lol", False, "P4", "P4", None),  # a joke
    ("heat wave warning for elderly on the radio, just letting you know", False, "P4", "P4", None),
]


@table(HEAT_WITHOUT_POWER)
def test_old_people_in_the_heat_without_power_are_p2(
    text: str, valid: bool, most: str, least: str, category: str | None
) -> None:
    check(text, valid, most, least, category)


# A break-in or looting is the police's ("other"), not the shelter the family went to, the power cut it happens
# in or the pharmacy it happens to; one found afterwards is P3 or P4 (a loss, reported to the police).
BREAK_IN_OR_LOOTING: list[Row] = [
    ("对面邻居家有人在撬门 他们一家去避难所了 家里没人", True, "P2", "P4", "other"),
    (
        "someone is breaking into the flat next door right now, the family evacuated yesterday",
        True,
        "P2",
        "P4",
        "other",
    ),
    ("好多人趁停电在抢超市的东西 现在还在抢", True, "P2", "P4", "other"),
    (
        "my shop camera shows two men inside taking stuff, i'm at the shelter, please send police",
        True,
        "P2",
        "P4",
        "other",
    ),
    (
        "i can see two guys trying to break into the pharmacy across the road, it's closed for the typhoon",
        True,
        "P2",
        "P4",
        "other",
    ),
    (
        "楼下便利店被人砸了 现在还有人在里面拿东西",
        True,
        "P2",
        "P4",
        "other",
    ),  # thieves inside, not people trapped
    # a car, an e-bike or sandbags taken: a theft, not a break-in (the second review: a car is P3 or P4)
    ("喂 有人正在撬我们楼下的车 好几辆了", True, "P3", "P4", "other"),
    ("有人趁停电在偷电动车 正在剪锁", True, "P3", "P4", "other"),
    ("someone is stealing the sandbags from our building right now", True, "P3", "P4", None),
    ("疏散回来发现家里被偷了 门锁被撬", True, "P3", "P4", "other"),
    ("someone broke into my house while we were away at the shelter", True, "P3", "P4", "other"),
    ("家里被偷了 不知道什么时候 可能是我们去避难所那几天", True, "P3", "P4", "other"),
    ("昨晚有人撬门 已经报警了 警察来过了", True, "P3", "P4", "other"),
    ("昨晚有人在撬门 已经报警了 警察来过了", True, "P4", "P4", "other"),
    ("有人在偷东西吗", True, "P4", "P4", "other"),
    ("听说隔壁区有人趁台风爆格 我们要注意什么", True, "P4", "P4", "other"),
    ("如果有人趁台风爆格 应该打边个电话", True, "P4", "P4", "other"),
    ("我们小区保安说最近小偷多 提醒大家锁门", True, "P4", "P4", "other"),
    ("the looting in the news was in another city right? just checking", True, "P4", "P4", "other"),
    ("no one is breaking in, the noise was just the wind banging the door", True, "P4", "P4", None),
]


@table(BREAK_IN_OR_LOOTING)
def test_a_break_in_or_looting_is_the_polices(
    text: str, valid: bool, most: str, least: str, category: str | None
) -> None:
    check(text, valid, most, least, category)


# The level of a break-in or looting of a home, a shop or a building going on now, whoever is home: P2 (someone
# sent within the hour; rules.toml's [in_progress], weight 40 with other's 5). These were P4 until it was read.
BREAK_IN_IN_PROGRESS: list[Row] = [
    ("对面邻居家有人在撬门 他们一家去避难所了 家里没人", True, "P2", "P2", "other"),
    ("隔篱屋冇人 而家有两个人喺度爆格", True, "P2", "P2", "other"),
    (
        "someone is breaking into the flat next door right now, the family evacuated yesterday",
        True,
        "P2",
        "P2",
        "other",
    ),
    ("guys are looting the supermarket on Main St right now, windows smashed", True, "P2", "P2", "other"),
    ("好多人趁停电在抢超市的东西 现在还在抢", True, "P2", "P2", "other"),
    ("有人撬咗楼下间铺头个闸 而家入紧去偷嘢", True, "P2", "P2", "other"),
    ("有班人喺度爆超市 玻璃都打烂晒 而家仲喺入面搬嘢", True, "P2", "P2", "other"),
    ("楼下便利店被人砸了 现在还有人在里面拿东西", True, "P2", "P2", "other"),
    ("救命 隔壁没人 有人在撬他们家的门 我不敢出去", True, "P2", "P2", "other"),
    ("they are stealing from the shop next door right now", True, "P2", "P2", "other"),
]


@table(BREAK_IN_IN_PROGRESS)
def test_a_break_in_going_on_now_is_p2_whoever_is_home(
    text: str, valid: bool, most: str, least: str, category: str | None
) -> None:
    check(text, valid, most, least, category)


# Near misses that were P1: a sign that hit an empty car or a tree a car with nobody in it, the risk of heat
# stroke, thieves still inside, a first-aid class, a question whether a sign will fall. Not P1 (and no more urgent than the level given).
NOT_A_DANGER_TO_LIFE: list[tuple[str, str]] = [
    ("招牌掉下来了 砸到一辆空车 还好没人受伤", "P3"),
    ("家里没空调 太热了 老人有中暑风险", "P2"),
    ("老人容易中暑 要多喝水", "P2"),
    ("楼下便利店被人砸了 现在还有人在里面拿东西", "P2"),
    ("heat stroke first aid class at the community centre, how to sign up?", "P2"),
    ("树倒了 压到一辆车 冇人喺车度", "P2"),
    ("招牌会唔会跌落嚟 下面好多人", "P3"),  # a question
]


@pytest.mark.parametrize(("text", "most"), NOT_A_DANGER_TO_LIFE, ids=[r[0] for r in NOT_A_DANGER_TO_LIFE])
def test_a_near_miss_is_not_a_danger_to_life(text: str, most: str) -> None:
    a = judge(ComplaintFacts(text), rules=RULES).assessment
    assert a.level >= most and not a.life_threatening, (a.level, a.factors)
