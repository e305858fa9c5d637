//! Bulk transfers: where a bulk and each of its transfers stand, and what the payee's answer
//! does to each reserved transfer. Each transfer of a bulk is an ordinary transfer (reserved,
//! committed, aborted and expired by the rules of [`crate::transfer`]); these rules only decide
//! which of those happens and what the bulk reports.

/// A bulk's state (Mojaloop's `bulkTransferState` ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkState {
    /// Taken by the API, not yet handled by the ledger (its body is staged).
    Received,
    /// Some transfers reserved; sent to the payee, whose answer is awaited.
    Accepted,
    /// Every transfer final after the payee's answer.
    Completed,
    /// No transfer could be reserved, or the payee refused the whole bulk.
    Rejected,
    /// Every transfer final, some (or all) by expiry.
    Expired,
}

impl BulkState {
    pub const ALL: [BulkState; 5] = [
        BulkState::Received,
        BulkState::Accepted,
        BulkState::Completed,
        BulkState::Rejected,
        BulkState::Expired,
    ];

    /// The id stored in `bulkTransfer.bulkTransferStateId`.
    pub fn id(self) -> &'static str {
        match self {
            BulkState::Received => "RECEIVED",
            BulkState::Accepted => "ACCEPTED",
            BulkState::Completed => "COMPLETED",
            BulkState::Rejected => "REJECTED",
            BulkState::Expired => "EXPIRED",
        }
    }

    /// The state as FSPIOP shows it (`BulkTransferState`): an expired bulk is COMPLETED, as in
    /// Mojaloop; an accepted one is PROCESSING once the payee was sent it.
    pub fn enumeration(self) -> &'static str {
        match self {
            BulkState::Received => "RECEIVED",
            BulkState::Accepted => "PROCESSING",
            BulkState::Completed | BulkState::Expired => "COMPLETED",
            BulkState::Rejected => "REJECTED",
        }
    }

    pub fn parse(id: &str) -> Option<BulkState> {
        BulkState::ALL.into_iter().find(|s| s.id() == id)
    }

    /// No transfer of the bulk will change any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            BulkState::Completed | BulkState::Rejected | BulkState::Expired
        )
    }
}

/// Where one transfer of a bulk stands (Mojaloop's `bulkProcessingState` ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemState {
    /// Refused by the ledger's checks at prepare (invalid, or its payer's limits).
    ReceivedInvalid,
    /// Its id was used before.
    ReceivedDuplicate,
    /// Reserved; the payee's answer is awaited.
    Accepted,
    /// Committed with the payee's fulfilment.
    Completed,
    /// Refused by the payee (or left out of its answer).
    Rejected,
    /// The payee's fulfilment did not match the condition.
    FulfilInvalid,
    /// Expired before the payee's answer.
    Expired,
}

impl ItemState {
    pub const ALL: [ItemState; 7] = [
        ItemState::ReceivedInvalid,
        ItemState::ReceivedDuplicate,
        ItemState::Accepted,
        ItemState::Completed,
        ItemState::Rejected,
        ItemState::FulfilInvalid,
        ItemState::Expired,
    ];

    pub fn id(self) -> &'static str {
        match self {
            ItemState::ReceivedInvalid => "RECEIVED_INVALID",
            ItemState::ReceivedDuplicate => "RECEIVED_DUPLICATE",
            ItemState::Accepted => "ACCEPTED",
            ItemState::Completed => "COMPLETED",
            ItemState::Rejected => "REJECTED",
            ItemState::FulfilInvalid => "FULFIL_INVALID",
            ItemState::Expired => "EXPIRED",
        }
    }

    pub fn parse(id: &str) -> Option<ItemState> {
        ItemState::ALL.into_iter().find(|s| s.id() == id)
    }

    /// Only an accepted (reserved) transfer still waits for something.
    pub fn is_final(self) -> bool {
        self != ItemState::Accepted
    }
}

/// The bulk's state once its transfers were prepared.
pub fn after_prepare(items: &[ItemState]) -> BulkState {
    if items.contains(&ItemState::Accepted) {
        BulkState::Accepted
    } else {
        BulkState::Rejected
    }
}

/// What the payee's answer says of one reserved transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A fulfilment; `matches`: its SHA-256 is the transfer's condition.
    Fulfilment { matches: bool },
    /// An `errorInformation` for it, or the whole bulk refused.
    Refused,
    /// Not in the payee's list of results.
    Missing,
}

/// What becomes of a reserved transfer of a bulk when the payee's answer arrives: committed
/// only with a matching fulfilment before its expiration; anything else gives the payer's
/// reservation back.
pub fn decide(answer: Answer, expired: bool) -> ItemState {
    match answer {
        _ if expired => ItemState::Expired,
        Answer::Fulfilment { matches: true } => ItemState::Completed,
        Answer::Fulfilment { matches: false } => ItemState::FulfilInvalid,
        Answer::Refused | Answer::Missing => ItemState::Rejected,
    }
}

/// The bulk's state once the payee answered (`whole_refused`: `REJECTED` or an error
/// callback), or after an expiry sweep; `None` while some transfer still waits.
pub fn after_answer(items: &[ItemState], whole_refused: bool) -> Option<BulkState> {
    if items.iter().any(|s| !s.is_final()) {
        return None;
    }
    Some(if whole_refused {
        BulkState::Rejected
    } else if items.contains(&ItemState::Expired) {
        BulkState::Expired
    } else {
        BulkState::Completed
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for s in BulkState::ALL {
            assert_eq!(BulkState::parse(s.id()), Some(s));
        }
        for s in ItemState::ALL {
            assert_eq!(ItemState::parse(s.id()), Some(s));
        }
        assert_eq!(BulkState::parse("PENDING_PREPARE"), None);
        assert_eq!(BulkState::Expired.enumeration(), "COMPLETED");
        assert_eq!(BulkState::Accepted.enumeration(), "PROCESSING");
    }

    #[test]
    fn prepare_accepts_when_any_transfer_reserved() {
        use ItemState::*;
        assert_eq!(
            after_prepare(&[ReceivedInvalid, Accepted]),
            BulkState::Accepted
        );
        assert_eq!(
            after_prepare(&[ReceivedInvalid, ReceivedDuplicate]),
            BulkState::Rejected
        );
    }

    #[test]
    fn only_a_matching_fulfilment_in_time_commits() {
        assert_eq!(
            decide(Answer::Fulfilment { matches: true }, false),
            ItemState::Completed
        );
        assert_eq!(
            decide(Answer::Fulfilment { matches: false }, false),
            ItemState::FulfilInvalid
        );
        assert_eq!(
            decide(Answer::Fulfilment { matches: true }, true),
            ItemState::Expired
        );
        assert_eq!(decide(Answer::Missing, false), ItemState::Rejected);
        assert_eq!(decide(Answer::Refused, false), ItemState::Rejected);
    }

    #[test]
    fn the_bulk_finishes_when_every_transfer_is_final() {
        use ItemState::*;
        assert_eq!(after_answer(&[Completed, Accepted], false), None);
        assert_eq!(
            after_answer(&[Completed, ReceivedInvalid], false),
            Some(BulkState::Completed)
        );
        assert_eq!(
            after_answer(&[Completed, Expired], false),
            Some(BulkState::Expired)
        );
        assert_eq!(
            after_answer(&[Rejected, ReceivedInvalid], true),
            Some(BulkState::Rejected)
        );
    }
}
