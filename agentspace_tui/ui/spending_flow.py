"""The send gate in the app: before a request goes out, a used-up budget or a forecast above ``confirm_above``
asks first (ConfirmScreen); confirming sends once, cancelling keeps the draft. Budget statuses are the ones the
usage worker read last (never the ledger on the event loop, once the app has them)."""

from __future__ import annotations

from collections.abc import Callable

from .app_base import AppBase
from .screens.confirm import ConfirmScreen


class SpendingFlow(AppBase):
    def __init__(self) -> None:
        super().__init__()
        self._gate_open = False  # the user confirmed: the next check lets this one request through

    def held_by_gate(self, draft: str, model_id: str | None, proceed: Callable[[], None]) -> bool:
        """True (and asks) when the request must be confirmed first; ``proceed`` sends it once confirmed."""
        if self._gate_open:
            return False
        from ..services.api import budget_statuses, check_send, forecast_request

        services, conversation = self.core_services, self.chat_session
        statuses = self.budget_statuses
        if statuses is None:  # the usage worker has not run yet: read the (small) ledger once
            statuses = budget_statuses(services.settings, services.store)
        inspection = self.last_inspection if model_id is None and draft else None
        try:
            forecast = forecast_request(services, conversation, draft, model_id=model_id, inspection=inspection)
        except Exception as exc:  # an unknown model: the send reports it
            self.log.warning(f"no forecast: {exc}")
            return False
        gate = check_send(services.settings, forecast, statuses)
        if not gate.holds:
            return False
        kinds = {h.kind for h in gate.holds}
        label = "Send anyway" if "budget" in kinds else "Send"

        def answered(yes: bool | None) -> None:
            if not yes:
                self.notify("not sent: your draft is kept", severity="information")
                return
            self._gate_open = True
            try:
                proceed()
            finally:
                self._gate_open = False

        self.push_screen(ConfirmScreen(gate.question(), confirm=label), answered)
        return True
