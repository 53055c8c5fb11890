"""A subscription to an application sequence on the stream, for eventsourcing's `recorder.subscribe()`.

It pulls from the stream from its last position (never a push consumer, which can drop messages when the
client falls behind). When it has caught up it waits a short, growing, bounded interval before asking
again, and stop() cuts any wait short.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING

from eventsourcing.persistence import Notification, Subscription

if TYPE_CHECKING:
    from events.store.recorders import NatsApplicationRecorder

PAGE = 500
MIN_WAIT = 0.01
MAX_WAIT = 0.2


class PollingSubscription(Subscription["NatsApplicationRecorder"]):
    def __init__(
        self, recorder: NatsApplicationRecorder, gt: int | None = None, topics: Sequence[str] = ()
    ) -> None:
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        # The scan position runs ahead of the last notification when a topic filter skips messages,
        # so an idle filtered subscription does not re-read what it has already passed over.
        self._position = max(gt or 0, 0)
        self._pending: deque[Notification] = deque()
        self._wakeup = threading.Event()

    def stop(self) -> None:
        super().stop()
        self._wakeup.set()

    def __next__(self) -> Notification:
        wait = MIN_WAIT
        while not self._has_been_stopped:
            if self._pending:
                notification = self._pending.popleft()
                self._last_notification_id = notification.id
                return notification
            found, self._position = self._recorder.scan(self._position, PAGE, topics=self._topics)
            if found:
                self._pending.extend(found)
                wait = MIN_WAIT
            else:
                self._wakeup.wait(wait)
                wait = min(wait * 2, MAX_WAIT)
        raise StopIteration
