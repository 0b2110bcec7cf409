"""The lockout rule on its own: who is refused, who is only slowed down."""

from camera_center.auth.lockout import LockoutRule, Refusal

RULE = LockoutRule(threshold=5, address_threshold=20)


def test_the_guessing_address_is_refused_for_that_account() -> None:
    assert RULE.decide(pair=4, address=4, account=4) == (None, 0.0)
    assert RULE.decide(pair=5, address=5, account=5) == (Refusal.ACCOUNT_FROM_ADDRESS, 0.0)


def test_the_owner_elsewhere_is_slowed_down_not_refused() -> None:
    # Five failures from another address: the owner's own address has none.
    assert RULE.decide(pair=0, address=0, account=5) == (None, 0.5)
    assert RULE.decide(pair=0, address=0, account=7) == (None, 2.0)
    assert RULE.decide(pair=0, address=0, account=500) == (None, 8.0)  # capped


def test_one_address_trying_many_accounts_is_refused() -> None:
    assert RULE.decide(pair=1, address=19, account=1) == (None, 0.0)
    assert RULE.decide(pair=1, address=20, account=1) == (Refusal.ADDRESS, 0.0)
