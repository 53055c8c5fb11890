"""Hazards residents report in plain words, with no category chosen: a review of the public pages found a hole in
the road, a cave-in and a roof torn off rejected as "no clear facts", turned away for good. The negatives are a
review of that fix: the dark (陷入), a hole already filled, clothes blown off a roof, a quarry tour's cave-in, water
through a hole in the pavement (flooding's); and what it found the fix read as the road giving way, a lamp fallen
across the road, is the road blocked."""

from __future__ import annotations

import pytest

from tests.unit.triage.test_real_callers import Row, check

FOUND: list[Row] = [
    ("马路塌了一个大洞", True, "P3", "P3", "road_blocked"),
    ("马路中间出现了一个大坑", True, "P3", "P3", "road_blocked"),
    ("There is a huge hole in the road on King St", True, "P3", "P3", "road_blocked"),
    ("The road has caved in where the main burst. It is dangerous, please put up barriers.", True, "P3", "P3",
     "road_blocked"),
    ("Our roof was torn off by the wind", True, "P3", "P3", "other"),
    ("我家屋顶被风吹走了", True, "P3", "P3", "other"),
    ("屋顶塌了一个大洞，雨水一直漏进来", True, "P3", "P4", "other"),
    ("The street lamp has collapsed across the road", True, "P3", "P3", "road_blocked"),
    ("一棵电线杆倒在马路中间", True, "P1", "P3", None),
    # more plain reports a later probe found rejected: a building down, a bridge cracking, a blocked drain
    ("The building next door collapsed", True, "P1", "P3", None),
    ("隔壁的房子塌了", True, "P1", "P3", None),
    ("在路上看到一栋旧楼塌了", True, "P1", "P3", None),
    ("The bridge on Harbour Rd is cracked", True, "P2", "P3", "road_blocked"),
    ("水渠堵了，街上全是水", True, "P2", "P3", "flooding"),
    ("The footbridge over Elm St is sagging", True, "P2", "P3", "road_blocked"),
    ("天桥塌了", True, "P1", "P3", "road_blocked"),
    ("昨天街上全是水，今天已经退了，路面干了", True, "P4", "P4", "flooding"),  # over: a report, not an emergency
]  # fmt: skip

NOT_THE_ROAD: list[Row] = [
    ("Water is coming up through a hole in the pavement", True, "P3", "P3", "flooding"),
    ("I want to ask about the cave-in at the old quarry tour", False, "P4", "P4", None),
    ("地面陷入一片黑暗", False, "P4", "P4", None),
    ("路上有个大坑已经填好了，谢谢", False, "P4", "P4", None),
    ("屋顶上的衣服被风吹走了", False, "P4", "P4", None),
    ("The clothes on the roof were blown away", False, "P4", "P4", None),
    ("楼市崩了，房价垮了", False, "P4", "P4", None),
    # found by a review of the terms above: a flu, a loan, a card game, a deal
    ("My whole block came down with flu this week", False, "P4", "P4", None),
    ("Talks on the bridge loan collapsed", False, "P4", "P4", None),
    ("桥牌桌腿断了", False, "P4", "P4", None),
    ("The deal collapsed and I lost my deposit", False, "P4", "P4", None),  # was P1: "collapsed and" alone
]  # fmt: skip


@pytest.mark.parametrize("row", FOUND + NOT_THE_ROAD, ids=lambda row: row[0][:40])
def test_a_hazard_in_plain_words_is_taken_and_what_is_not_one_is_not_read_as_it(row: Row) -> None:
    check(*row)
