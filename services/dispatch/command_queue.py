"""Adapter: the command queue as a department the domain accepts.

The reference data (events/reference/levee.toml) lists no ``command`` department yet, and
``Complaint.dispatch`` refuses unknown departments. Until it does, dispatch passes this extended
reference to the aggregate; once levee.toml lists the department this returns the reference unchanged.
"""

from __future__ import annotations

import dataclasses

from events.reference import COMMAND_QUEUE, Department, Reference


def with_command_queue(reference: Reference, code: str = COMMAND_QUEUE) -> Reference:
    if any(d.code == code for d in reference.departments):
        return reference
    command = Department(code=code, name_en="Emergency Command", name_zh="应急指挥部")
    return dataclasses.replace(reference, departments=(*reference.departments, command))
