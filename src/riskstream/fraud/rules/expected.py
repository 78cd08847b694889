"""The features the default rules expect: the contract for the feature engine.

Until the feature engine exists, this catalogue *is* the list of features it must provide,
by these names and types, as of each checkout's event time (point-in-time: only events with
an earlier event time count). A feature the engine cannot compute for a checkout (no promo
in the session, no geolocated previous event, no mouse data) is absent or ``None``: null.

Types: ``number`` (``int``/``float``), ``bool``, ``string``, ``duration-ms`` (``int``
milliseconds) and ``timestamp`` (``int`` epoch milliseconds). Money is in the currency's
major unit, like the events. Ids carry the list kind they can be tested against
(``device.id in blocklist.device``).

=================================== ============ ==================================================
feature                             type         meaning
=================================== ============ ==================================================
login.new_device                    bool         the session's login came from a device never seen
                                                 for this user before
login.new_country                   bool         the login country is not among the user's usual
                                                 (previously seen) countries
login.country                       string       ISO country of the session's login
session.ms_since_login              duration-ms  from the session's login to the checkout
promo.value                         number       discount of the promo applied in the session
promo.cart_value                    number       cart value when the promo was applied
promo.code                          string       the promo code
promo.seconds_after_first_click     number       seconds from the session's first click to the promo
checkout.amount                     number       amount of this checkout
checkout.currency                   string       its currency
checkout.country                    string       ISO country of the checkout (IP geolocation)
checkout.bin_country                string       issuing country of the card (from the BIN)
checkout.item_count                 number       items in the cart
checkout.seconds_after_first_click  number       seconds from the session's first click to checkout
checkout.new_shipping_address       bool         shipping address never used by this user before
user.email_hash                     string       hash of the account e-mail (kind email_hash)
user.checkouts_1m / _1h / _24h      number       the user's checkouts in the last 1 min / 1 h / 24 h
user.checkout_amount_1h / _24h      number       their total amount over 1 h / 24 h
user.avg_checkout_amount_30d        number       mean checkout amount over 30 days (null: none)
user.failed_logins_10m              number       failed logins in the last 10 minutes
user.distinct_instruments_24h       number       distinct payment instruments used in 24 h
user.promo_uses_24h                 number       promos applied by this user in 24 h
account.age_ms                      duration-ms  time since the account's first event
account.ms_since_address_change     duration-ms  time since the last address change (null: never)
account.ms_since_profile_change     duration-ms  time since e-mail/phone/password changed
device.id                           string       device id (kind device)
device.age_ms                       duration-ms  time since the device was first seen (any user)
device.distinct_instruments_24h     number       distinct instruments used on the device in 24 h
device.distinct_accounts_24h        number       distinct accounts seen on the device in 24 h
device.distinct_bin_countries_24h   number       distinct card-issuing countries on it in 24 h
device.promo_uses_24h               number       promos applied from the device in 24 h
device.checkouts_1h                 number       checkouts from the device in 1 h (all accounts)
instrument.id                       string       instrument fingerprint (kind instrument)
instrument.bin                      string       the card's BIN (kind bin)
instrument.new_for_user             bool         the user never paid with it before
instrument.chargebacks_90d          number       chargebacks on it over 90 days, counted from
                                                 when each label arrived
instrument.distinct_accounts_30d    number       distinct accounts that used it in 30 days
instrument.promo_uses_24h           number       promos paid with it in 24 h
ip.address                          string       the checkout's IP (kind ip)
ip.distinct_accounts_1h             number       distinct accounts seen from that IP in 1 h
merchant.id                         string       merchant of the checkout
merchant.chargeback_rate_90d        number       chargebacks / checkouts over 90 days, label-time
merchant.fraud_reports_90d          number       fraud reports over 90 days, label-time
travel.speed_kmh                    number       great-circle distance / time between this event
                                                 and the user's previous geolocated one
travel.distance_km                  number       that distance
mouse.samples                       number       pointer samples in the session (null: none sent)
mouse.straightness                  number       straight-line / path length, 1 = robot-straight
mouse.mean_speed                    number       mean pointer speed, pixels per ms
mouse.max_speed                     number       peak pointer speed, pixels per ms
=================================== ============ ==================================================
"""

from __future__ import annotations

from riskstream.fraud.rules.catalogue import Feature, FeatureCatalogue, ListKind, ValueType

__all__ = ["EXPECTED_FEATURES"]

_N, _B, _S, _D = ValueType.NUMBER, ValueType.BOOL, ValueType.STRING, ValueType.DURATION

_FEATURES = (
    Feature("login.new_device", _B, "login from a device never seen for this user"),
    Feature("login.new_country", _B, "login country not among the user's usual ones"),
    Feature("login.country", _S, "ISO country of the session's login"),
    Feature("session.ms_since_login", _D, "from the session's login to the checkout"),
    Feature("promo.value", _N, "discount of the promo applied in the session"),
    Feature("promo.cart_value", _N, "cart value when the promo was applied"),
    Feature("promo.code", _S, "the promo code"),
    Feature("promo.seconds_after_first_click", _N, "seconds from first click to the promo"),
    Feature("checkout.amount", _N, "amount of this checkout"),
    Feature("checkout.currency", _S, "currency of this checkout"),
    Feature("checkout.country", _S, "ISO country of the checkout (IP geolocation)"),
    Feature("checkout.bin_country", _S, "issuing country of the card"),
    Feature("checkout.item_count", _N, "items in the cart"),
    Feature("checkout.seconds_after_first_click", _N, "seconds from first click to checkout"),
    Feature("checkout.new_shipping_address", _B, "shipping address new for this user"),
    Feature("user.email_hash", _S, "hash of the account e-mail", ListKind.EMAIL_HASH),
    Feature("user.checkouts_1m", _N, "checkouts in the last minute"),
    Feature("user.checkouts_1h", _N, "checkouts in the last hour"),
    Feature("user.checkouts_24h", _N, "checkouts in the last 24 hours"),
    Feature("user.checkout_amount_1h", _N, "checkout amount over the last hour"),
    Feature("user.checkout_amount_24h", _N, "checkout amount over the last 24 hours"),
    Feature("user.avg_checkout_amount_30d", _N, "mean checkout amount over 30 days"),
    Feature("user.failed_logins_10m", _N, "failed logins in the last 10 minutes"),
    Feature("user.distinct_instruments_24h", _N, "distinct instruments used in 24 hours"),
    Feature("user.promo_uses_24h", _N, "promos applied in 24 hours"),
    Feature("account.age_ms", _D, "time since the account's first event"),
    Feature("account.ms_since_address_change", _D, "time since the last address change"),
    Feature("account.ms_since_profile_change", _D, "time since e-mail/phone/password changed"),
    Feature("device.id", _S, "device id", ListKind.DEVICE),
    Feature("device.age_ms", _D, "time since the device was first seen"),
    Feature("device.distinct_instruments_24h", _N, "distinct instruments on the device, 24 h"),
    Feature("device.distinct_accounts_24h", _N, "distinct accounts on the device, 24 h"),
    Feature("device.distinct_bin_countries_24h", _N, "distinct issuing countries, 24 h"),
    Feature("device.promo_uses_24h", _N, "promos applied from the device, 24 h"),
    Feature("device.checkouts_1h", _N, "checkouts from the device in the last hour"),
    Feature("instrument.id", _S, "payment instrument fingerprint", ListKind.INSTRUMENT),
    Feature("instrument.bin", _S, "the card's BIN", ListKind.BIN),
    Feature("instrument.new_for_user", _B, "the user never paid with it before"),
    Feature("instrument.chargebacks_90d", _N, "chargebacks over 90 days (label time)"),
    Feature("instrument.distinct_accounts_30d", _N, "distinct accounts using it, 30 days"),
    Feature("instrument.promo_uses_24h", _N, "promos paid with it, 24 h"),
    Feature("ip.address", _S, "the checkout's IP address", ListKind.IP),
    Feature("ip.distinct_accounts_1h", _N, "distinct accounts from that IP, 1 h"),
    Feature("merchant.id", _S, "merchant of the checkout"),
    Feature("merchant.chargeback_rate_90d", _N, "chargebacks / checkouts, 90 days"),
    Feature("merchant.fraud_reports_90d", _N, "fraud reports, 90 days"),
    Feature("travel.speed_kmh", _N, "speed implied by the previous geolocated event"),
    Feature("travel.distance_km", _N, "distance from the previous geolocated event"),
    Feature("mouse.samples", _N, "pointer samples in the session"),
    Feature("mouse.straightness", _N, "straight-line / path length, 1 = robot-straight"),
    Feature("mouse.mean_speed", _N, "mean pointer speed, pixels per ms"),
    Feature("mouse.max_speed", _N, "peak pointer speed, pixels per ms"),
)

#: The catalogue of expected features, with the default block/allow lists.
EXPECTED_FEATURES = FeatureCatalogue.of(_FEATURES)
