//! The bank debits Checkout offers besides cards, ACH Direct Debit
//! (`us_bank_account`, usd) and SEPA Direct Debit (`sepa_debit`, eur), and
//! Stripe's test accounts for them. A debit is `processing` when submitted and
//! settles later, as the account decides.

use crate::cards::Decline;

/// How a bank debit that fails is described, as Stripe's ACH return `no_account`.
pub const NO_ACCOUNT: Decline = Decline {
    code: "no_account",
    decline_code: None,
    message: "The customer's bank account could not be located.",
    param: None,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BankDebit {
    UsBankAccount,
    SepaDebit,
}

impl BankDebit {
    pub const ALL: [BankDebit; 2] = [BankDebit::UsBankAccount, BankDebit::SepaDebit];

    pub fn from_type(payment_method_type: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|b| b.as_str() == payment_method_type)
    }

    /// The payment method type.
    pub fn as_str(self) -> &'static str {
        match self {
            BankDebit::UsBankAccount => "us_bank_account",
            BankDebit::SepaDebit => "sepa_debit",
        }
    }

    /// The only currency Stripe debits this way.
    pub fn currency(self) -> &'static str {
        match self {
            BankDebit::UsBankAccount => "usd",
            BankDebit::SepaDebit => "eur",
        }
    }

    /// How the payment page names it.
    pub fn label(self) -> &'static str {
        match self {
            BankDebit::UsBankAccount => "US bank account",
            BankDebit::SepaDebit => "SEPA Direct Debit",
        }
    }
}

#[derive(Debug)]
pub struct TestBank {
    pub debit: BankDebit,
    /// The ACH routing number, or the bank code inside the IBAN.
    pub routing: &'static str,
    /// The account number, or the IBAN.
    pub number: &'static str,
    pub succeeds: bool,
}

impl TestBank {
    pub fn last4(&self) -> &'static str {
        &self.number[self.number.len() - 4..]
    }
}

/// Stripe's test routing number and bank accounts.
pub const TEST_ROUTING_NUMBER: &str = "110000000";

static BANKS: &[TestBank] = &[
    TestBank {
        debit: BankDebit::UsBankAccount,
        routing: TEST_ROUTING_NUMBER,
        number: "000123456789",
        succeeds: true,
    },
    TestBank {
        debit: BankDebit::UsBankAccount,
        routing: TEST_ROUTING_NUMBER,
        number: "000111111116",
        succeeds: false,
    },
    TestBank {
        debit: BankDebit::SepaDebit,
        routing: "37040044",
        number: "DE89370400440532013000",
        succeeds: true,
    },
    TestBank {
        debit: BankDebit::SepaDebit,
        routing: "37040044",
        number: "DE62370400440532013001",
        succeeds: false,
    },
];

/// The test account typed in (spaces ignored, IBANs in any case).
pub fn lookup(debit: BankDebit, number: &str) -> Option<&'static TestBank> {
    let number: String = number
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    BANKS
        .iter()
        .find(|b| b.debit == debit && b.number == number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_test_accounts_of_each_debit() {
        let iban = lookup(BankDebit::SepaDebit, "de89 3704 0044 0532 0130 00").unwrap();
        assert!(iban.succeeds);
        assert_eq!(iban.last4(), "3000");
        assert!(
            !lookup(BankDebit::UsBankAccount, "000111111116")
                .unwrap()
                .succeeds
        );
        assert!(lookup(BankDebit::UsBankAccount, "DE89370400440532013000").is_none());
        assert_eq!(
            BankDebit::from_type("sepa_debit"),
            Some(BankDebit::SepaDebit)
        );
        assert_eq!(BankDebit::from_type("card"), None);
    }
}
