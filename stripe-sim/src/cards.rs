//! Stripe's test card numbers and what each one does.

/// Why a charge was refused, worded exactly as Stripe words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decline {
    pub code: &'static str,
    pub decline_code: Option<&'static str>,
    pub message: &'static str,
    pub param: Option<&'static str>,
}

const GENERIC: Decline = Decline {
    code: "card_declined",
    decline_code: Some("generic_decline"),
    message: "Your card was declined.",
    param: None,
};

const INSUFFICIENT_FUNDS: Decline = Decline {
    code: "card_declined",
    decline_code: Some("insufficient_funds"),
    message: "Your card has insufficient funds.",
    param: None,
};

pub const AUTHENTICATION_REQUIRED: Decline = Decline {
    code: "authentication_required",
    decline_code: Some("authentication_required"),
    message: "Your card was declined. This transaction requires authentication.",
    param: None,
};

/// What happens when the cardholder is present (Checkout, on-session confirm).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnSession {
    Succeed,
    Decline(Decline),
    /// A 3D Secure step first; `then` is the decline that follows a completed one.
    Authenticate {
        then: Option<Decline>,
    },
}

/// What happens to a later merchant-initiated (`off_session`) charge of the saved card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffSession {
    Succeed,
    Decline(Decline),
    AuthenticationRequired,
    /// 4000 0025 0000 3155: authentication is not needed again once the card was
    /// set up for off-session use (saved with `setup_future_usage=off_session`).
    AuthenticationRequiredUnlessSetUp,
}

#[derive(Debug)]
pub struct TestCard {
    pub number: &'static str,
    pub brand: &'static str,
    pub on_session: OnSession,
    pub off_session: OffSession,
    pub refunds: Refunds,
}

/// How refunds of a card's charges go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refunds {
    Succeed,
    /// `pending`, then `succeeded` after the settlement delay (4000 0000 0000 7726).
    PendingThenSucceed,
    /// `succeeded`, then `failed` after the settlement delay (4000 0000 0000 5126).
    SucceedThenFail,
}

const fn declines(number: &'static str, decline: Decline) -> TestCard {
    TestCard {
        number,
        brand: "visa",
        on_session: OnSession::Decline(decline),
        off_session: OffSession::Decline(decline),
        refunds: Refunds::Succeed,
    }
}

static CARDS: &[TestCard] = &[
    TestCard {
        number: "4242424242424242",
        brand: "visa",
        on_session: OnSession::Succeed,
        off_session: OffSession::Succeed,
        refunds: Refunds::Succeed,
    },
    TestCard {
        number: "5555555555554444",
        brand: "mastercard",
        on_session: OnSession::Succeed,
        off_session: OffSession::Succeed,
        refunds: Refunds::Succeed,
    },
    TestCard {
        number: "4000000000003055",
        brand: "visa",
        on_session: OnSession::Succeed,
        off_session: OffSession::Succeed,
        refunds: Refunds::Succeed,
    },
    declines("4000000000000002", GENERIC),
    declines("4000000000009995", INSUFFICIENT_FUNDS),
    declines(
        "4000000000009987",
        Decline {
            decline_code: Some("lost_card"),
            ..GENERIC
        },
    ),
    declines(
        "4000000000009979",
        Decline {
            decline_code: Some("stolen_card"),
            ..GENERIC
        },
    ),
    declines(
        "4100000000000019",
        Decline {
            decline_code: Some("fraudulent"),
            ..GENERIC
        },
    ),
    declines(
        "4000000000000069",
        Decline {
            code: "expired_card",
            decline_code: Some("expired_card"),
            message: "Your card has expired.",
            param: Some("exp_month"),
        },
    ),
    declines(
        "4000000000000127",
        Decline {
            code: "incorrect_cvc",
            decline_code: Some("incorrect_cvc"),
            message: "Your card's security code is incorrect.",
            param: Some("cvc"),
        },
    ),
    declines(
        "4000000000000119",
        Decline {
            code: "processing_error",
            decline_code: Some("processing_error"),
            message: "An error occurred while processing your card. Try again in a little bit.",
            param: None,
        },
    ),
    TestCard {
        number: "4000002500003155",
        brand: "visa",
        on_session: OnSession::Authenticate { then: None },
        off_session: OffSession::AuthenticationRequiredUnlessSetUp,
        refunds: Refunds::Succeed,
    },
    TestCard {
        number: "4000002760003184",
        brand: "visa",
        on_session: OnSession::Authenticate { then: None },
        off_session: OffSession::AuthenticationRequired,
        refunds: Refunds::Succeed,
    },
    TestCard {
        number: "4000008260003178",
        brand: "visa",
        on_session: OnSession::Authenticate {
            then: Some(INSUFFICIENT_FUNDS),
        },
        off_session: OffSession::Decline(INSUFFICIENT_FUNDS),
        refunds: Refunds::Succeed,
    },
    TestCard {
        number: "4000000000007726",
        brand: "visa",
        on_session: OnSession::Succeed,
        off_session: OffSession::Succeed,
        refunds: Refunds::PendingThenSucceed,
    },
    TestCard {
        number: "4000000000005126",
        brand: "visa",
        on_session: OnSession::Succeed,
        off_session: OffSession::Succeed,
        refunds: Refunds::SucceedThenFail,
    },
    // Checkout succeeds and saves the card; merchant-initiated charges then fail.
    TestCard {
        number: "4000000000000341",
        brand: "visa",
        on_session: OnSession::Succeed,
        off_session: OffSession::Decline(GENERIC),
        refunds: Refunds::Succeed,
    },
];

/// Looks a number up after removing spaces; any other number is "incorrect".
pub fn lookup(number: &str) -> Option<&'static TestCard> {
    let digits: String = number.chars().filter(|c| !c.is_whitespace()).collect();
    CARDS.iter().find(|card| card.number == digits)
}

impl TestCard {
    pub fn last4(&self) -> &'static str {
        &self.number[self.number.len() - 4..]
    }

    /// The outcome of an off-session charge, given what the saved card was set up for.
    pub fn off_session_outcome(&self, set_up_for: Option<&str>) -> Option<Decline> {
        match self.off_session {
            OffSession::Succeed => None,
            OffSession::Decline(decline) => Some(decline),
            OffSession::AuthenticationRequired => Some(AUTHENTICATION_REQUIRED),
            OffSession::AuthenticationRequiredUnlessSetUp if set_up_for == Some("off_session") => {
                None
            }
            OffSession::AuthenticationRequiredUnlessSetUp => Some(AUTHENTICATION_REQUIRED),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_may_contain_spaces() {
        let card = lookup("4242 4242 4242 4242").unwrap();
        assert_eq!(card.last4(), "4242");
        assert_eq!(card.on_session, OnSession::Succeed);
        assert!(lookup("4242 4242 4242 4241").is_none());
    }

    #[test]
    fn the_3155_card_needs_authentication_off_session_unless_set_up_for_it() {
        let card = lookup("4000002500003155").unwrap();
        assert_eq!(card.off_session_outcome(Some("off_session")), None);
        assert_eq!(
            card.off_session_outcome(Some("on_session")),
            Some(AUTHENTICATION_REQUIRED)
        );
        let always = lookup("4000002760003184").unwrap();
        assert_eq!(
            always.off_session_outcome(Some("off_session")),
            Some(AUTHENTICATION_REQUIRED)
        );
    }
}
