"""Texts as real callers write them, fourth review: ordinary complaints the fourth round's new danger and
break-in terms read as P1 (or a crime in progress) before a review of the whole change caught them. Each must
stay as urgent as it was: no danger to life, no crime in progress.

The fourth round's dangers themselves are in the tuned set (tests/data/triage_cases.jsonl, its last 90 rows),
held at P1 recall 100 % by test_accuracy.py.
"""

from __future__ import annotations

import pytest

from services.triage.scoring import ComplaintFacts, judge
from tests.unit.triage.test_real_callers import RULES

ORDINARY: list[tuple[str, str]] = [
    ("对面紫荆花园停电两日，冷气开唔到，好热", "P2"),
    ("后面紫色垃圾桶满晒，成条街好臭", "P4"),
    ("等咗三日都冇人派水，我心口好翳", "P4"),
    ("投诉咗几次都冇人理，我个心口好闷", "P4"),
    ("The drain outside our block is choked and water pools on the pavement", "P3"),
    ("Choked drains on Harbour Rd again, please send someone to clear them", "P3"),
    ("I was shocked by the water bill this month, it doubled", "P3"),
    ("The exposed socket in the lobby could give someone an electric shock, please fix it", "P4"),
    ("楼上装修，成日砸紧墙，震到我个窗", "P4"),
    ("隔离装修锯紧木门，好嘈，影响休息", "P4"),
    ("楼下烧烤，烟冲进我家，好难闻", "P4"),
    ("满屋烟味，楼下有人食烟", "P4"),
    ("成屋烟味，邻居成日煮饭唔开抽油烟机", "P4"),
    ("冷气机漏水，水入紧嚟，窗台湿晒", "P4"),
    ("窗边渗水，水进紧来，想问边个负责维修", "P4"),
    ("个仔踩咗落坑渠，对鞋湿晒，坑渠盖冇咗，请修返", "P3"),
    ("电梯坏了，维修工人在里面修了一上午，我们要走楼梯", "P4"),
    ("The wind blew rubbish into the residents' garden, please clean up", "P4"),
    ("Management's men are cutting the locks on the bin room doors to clear rubbish", "P4"),
    ("电线烧晒，冇电用，想问几时有人嚟整", "P4"),
    (
        "My son got an electric shock from the toaster last week, he is fine, can you check the building wiring",
        "P4",
    ),
    ("隔壁屋企个水喉爆咗，水冲紧嚟走廊", "P3"),
]


@pytest.mark.parametrize(("text", "level"), ORDINARY, ids=[row[0][:40] for row in ORDINARY])
def test_an_ordinary_complaint_is_no_danger_to_life_nor_a_crime_in_progress(text: str, level: str) -> None:
    assessment = judge(ComplaintFacts(text), rules=RULES).assessment
    names = {f["name"] for f in assessment.factors}
    assert not assessment.life_threatening and "in_progress" not in names, (
        assessment.level,
        assessment.factors,
    )
    assert assessment.level == level, (assessment.level, assessment.factors)
