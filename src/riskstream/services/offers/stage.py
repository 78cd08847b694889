"""The ``offers`` step: follows each user's carts and risk, and offers when a cart idles.

Per user (the key of every input) it folds:

* activity — a ``/cart`` or ``/checkout`` page view or a promo opens or refreshes the
  session's cart and (re)arms its idle timer; other clicks and pointer movement mark the
  session as still active; a checkout closes the cart (every cart, if it names no session);
* risk — a review/challenge/block decision, a paused or challenged transaction, a cancelled
  one, a chargeback, a confirmed fraud report or a failed MFA flag the user for
  ``flag_window_ms``; a paused transaction holds every offer until it is released or
  cancelled; a release (or a passed MFA) clears what its transaction flagged.

Idle carts are found by processing-time timers: ``idle_ms`` after the latest cart signal
was *read*, so a service lagging behind the log compares the cart with checkouts equally
delayed, and never offers before a checkout it simply had not read yet. Alerts need no
input of their own: every alert is also a decision, and flags the user from there.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from riskstream.events import (
    Chargeback,
    Checkout,
    Click,
    FraudReported,
    MfaChallengeIssued,
    MfaCompleted,
    MouseMovement,
    PromoApplied,
    TransactionCancelled,
    TransactionPaused,
    TransactionReleased,
)
from riskstream.fraud.decision import Decision
from riskstream.services.offers.config import OffersConfig
from riskstream.services.offers.offer import Offer, offer_id, personalise
from riskstream.services.offers.state import Cart, UserOffers, remember
from riskstream.stream import Context, Item, KeyState

__all__ = ["OfferStage", "is_cart_page"]

logger = logging.getLogger(__name__)

_CART_PATHS = ("/cart", "/checkout")
_RISK = (
    Decision,
    TransactionPaused,
    MfaChallengeIssued,
    TransactionReleased,
    TransactionCancelled,
    Chargeback,
    FraudReported,
    MfaCompleted,
)


def is_cart_page(page: str) -> bool:
    """``/cart`` and ``/checkout`` (with any sub-path or query): the user is at their cart."""
    path = page.split("?", 1)[0].rstrip("/")
    return any(path == p or path.startswith(p + "/") for p in _CART_PATHS)


class OfferStage:
    """The ``offers`` step (state: :class:`UserOffers`). ``outcomes`` counts what became of
    each idle cart in this process: ``offered`` or the reason it was not."""

    def __init__(self, config: OffersConfig) -> None:
        self.config = config
        self.outcomes: Counter[str] = Counter()

    # -- inputs -----------------------------------------------------------------------------

    def process(self, item: Item, state: KeyState[Any], ctx: Context) -> None:
        value = item.value
        user: UserOffers | None = state.get()
        if isinstance(value, Click | MouseMovement | PromoApplied):
            user = self._activity(value, user, ctx)
        elif isinstance(value, Checkout):
            user = _checked_out(value, user)
        elif isinstance(value, _RISK):
            user = user or UserOffers()
            self._risk(value, user)
        else:
            return  # logins, account changes: nothing to do with a cart or a flag
        if user is not None:
            state.set(user)

    def _activity(
        self, event: Click | MouseMovement | PromoApplied, user: UserOffers | None, ctx: Context
    ) -> UserOffers | None:
        """Fold a page view, pointer summary or promo; the user's state if it changed."""
        if isinstance(event, PromoApplied):
            session = event.session_id or (user.latest_session() if user else None)
            if session is None:
                return None
            return self._cart_signal(
                user, session, event.event_time, ctx, event.cart_value, event.code
            )
        if isinstance(event, Click) and is_cart_page(event.page):
            return self._cart_signal(user, event.session_id, event.event_time, ctx)
        cart = None if user is None else user.carts.get(event.session_id)
        if cart is None or event.event_time <= cart.seen:
            return None
        cart.seen = event.event_time  # still there: the session is active
        return user

    def _cart_signal(
        self,
        user: UserOffers | None,
        session: str,
        at: int,
        ctx: Context,
        value: float | None = None,
        promo: str | None = None,
    ) -> UserOffers | None:
        """Open or refresh the session's cart and arm its idle timer; the user's state, or
        None if nothing changed (the session had its offer, or this is history)."""
        config = self.config
        now = ctx.now()
        if now - at > config.session_gap_ms:
            return None
        user = user or UserOffers()
        if session in user.offered:
            return None
        due = now + config.idle_ms
        cart = user.carts.get(session)
        if cart is None:
            cart = Cart(opened=at, last=at, seen=at, due=due)
            user.open_cart(session, cart)
        else:
            cart.last, cart.seen, cart.due = max(cart.last, at), max(cart.seen, at), due
        if value is not None:
            cart.value, cart.promo = value, promo
        ctx.schedule(due, processing_time=True)
        return user

    def _risk(self, value: Any, user: UserOffers) -> None:
        """Fold a decision, a transaction's lifecycle or a label."""
        window = self.config.flag_window_ms
        if isinstance(value, Decision):
            self._decision(value, user)
            user.prune_flags(value.checkout_time - window)
        elif isinstance(value, TransactionPaused | MfaChallengeIssued):
            txid = value.transaction_id
            if txid not in user.cleared:
                remember(user.held, txid, value.event_time)
                user.flags.setdefault(txid, value.event_time)
        elif isinstance(value, TransactionReleased) or (
            isinstance(value, MfaCompleted) and value.passed
        ):
            self._release(value.transaction_id, value.event_time, user)
        elif isinstance(value, TransactionCancelled):
            user.held.pop(value.transaction_id, None)
            user.flags[value.transaction_id] = value.event_time
        elif _is_fraud_label(value):
            user.flags[value.transaction_id] = value.event_time
            user.prune_flags(value.event_time - window)

    def _decision(self, decision: Decision, user: UserOffers) -> None:
        txid = decision.transaction_id
        if txid in user.cleared:
            return  # released already: the decision it resolved no longer speaks
        if decision.checkout_time >= user.scored_at:
            user.score, user.scored_tx, user.scored_at = (
                decision.score,
                txid,
                decision.checkout_time,
            )
        if decision.action == "allow":
            user.returning = True
        else:
            user.flags[txid] = max(
                user.flags.get(txid, decision.checkout_time), decision.checkout_time
            )

    def _release(self, txid: str, at: int, user: UserOffers) -> None:
        """The user proved themselves for ``txid``: what it flagged no longer counts."""
        user.held.pop(txid, None)
        user.flags.pop(txid, None)
        remember(user.cleared, txid, at)
        if user.scored_tx == txid:
            user.score = None

    # -- idle carts -------------------------------------------------------------------------

    def on_timer(self, at: int, state: KeyState[Any], ctx: Context) -> None:
        user: UserOffers | None = state.get()
        if user is None:
            return
        idle = [session for session, cart in user.carts.items() if cart.due <= at]
        if not idle:
            return  # a timer its cart outgrew: a later signal re-armed it
        key = ctx.key
        user_id = "" if key is None else key.decode()
        for session in idle:
            cart = user.carts.pop(session)
            offer = self._consider(user_id, session, cart, user, ctx.now())
            if offer is not None:
                ctx.forward(offer, event_time=offer.offered_at)
        state.set(user)

    def _consider(
        self, user_id: str, session: str, cart: Cart, user: UserOffers, now: int
    ) -> Offer | None:
        """The offer for an idle cart, or None with the reason counted."""
        reason = self._refusal(cart, user, now)
        self.outcomes[reason or "offered"] += 1
        if reason is not None:
            logger.debug("no offer for %s/%s: %s", user_id, session, reason)
            return None
        config = self.config
        kind, value, why = personalise(cart, returning=user.returning, idle_ms=config.idle_ms)
        remember(user.offered, session, now)
        user.last_offer = now
        return Offer(
            offer_id=offer_id(user_id, session),
            user_id=user_id,
            session_id=session,
            kind=kind,
            value=value,
            reason=why,
            cart_value=cart.value,
            promo=cart.promo,
            cart_opened_at=cart.opened,
            idle_since=cart.last,
            offered_at=now,
            expires_at=now + config.valid_ms,
            risk_score=user.score,
        )

    def _refusal(self, cart: Cart, user: UserOffers, now: int) -> str | None:
        config = self.config
        if now - cart.seen > config.session_gap_ms:
            return "session_ended"
        if user.held:
            return "paused"
        # The moment the cart went idle, in event time: flags from the window before it
        # (or after it, read meanwhile) count.
        if user.flagged_since(cart.last + config.idle_ms - config.flag_window_ms):
            return "flagged"
        if user.score is not None and user.score >= config.max_score:
            return "risky"
        if user.last_offer is not None and now - user.last_offer < config.cooldown_ms:
            return "cooldown"
        return None


def _checked_out(checkout: Checkout, user: UserOffers | None) -> UserOffers | None:
    """Close the checkout's cart (every cart, if it names no session)."""
    if user is None or not user.carts:
        return None
    if checkout.session_id is None:
        user.carts.clear()
    elif user.carts.pop(checkout.session_id, None) is None:
        return None
    return user


def _is_fraud_label(value: Any) -> bool:
    if isinstance(value, Chargeback):
        return True
    if isinstance(value, FraudReported):
        return value.confirmed
    return isinstance(value, MfaCompleted) and not value.passed
