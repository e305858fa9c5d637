//! Settlement rules (spec central-ledger.md §6): window and settlement states, which account
//! state changes a settlement allows, how a settlement's own state follows its accounts, which
//! window contents a model settles, and which positions a settlement transfer moves.
//!
//! Pure: callers read the current states and amounts, ask here what to do, and write it.

use crate::Money;

/// A settlement window's (or a window content's, or an aggregation row's) state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WindowState {
    Open,
    Processing,
    Closed,
    PendingSettlement,
    Settled,
    Aborted,
    Failed,
}

const WINDOW_STATES: &[(WindowState, &str)] = &[
    (WindowState::Open, "OPEN"),
    (WindowState::Processing, "PROCESSING"),
    (WindowState::Closed, "CLOSED"),
    (WindowState::PendingSettlement, "PENDING_SETTLEMENT"),
    (WindowState::Settled, "SETTLED"),
    (WindowState::Aborted, "ABORTED"),
    (WindowState::Failed, "FAILED"),
];

impl WindowState {
    /// The `settlementWindowStateId`.
    pub fn id(self) -> &'static str {
        WINDOW_STATES
            .iter()
            .find(|(s, _)| *s == self)
            .map(|(_, id)| *id)
            .unwrap_or("FAILED")
    }

    pub fn parse(id: &str) -> Option<WindowState> {
        WINDOW_STATES
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(id))
            .map(|(s, _)| *s)
    }

    /// Whether a settlement may take a window (or a content) in this state.
    pub fn is_settleable(self) -> bool {
        matches!(self, WindowState::Closed | WindowState::Aborted)
    }
}

/// A window's state derived from its contents' states, once the window is closed: SETTLED when
/// every content is; PENDING_SETTLEMENT while any content is in a settlement (or some are
/// settled and the rest still to settle); ABORTED when a content's settlement was aborted;
/// CLOSED otherwise. `None` for a window without contents (it stays as it is).
pub fn window_state_from_contents(contents: &[WindowState]) -> Option<WindowState> {
    if contents.is_empty() {
        return None;
    }
    let any = |state: WindowState| contents.contains(&state);
    Some(if contents.iter().all(|s| *s == WindowState::Settled) {
        WindowState::Settled
    } else if any(WindowState::PendingSettlement) {
        WindowState::PendingSettlement
    } else if any(WindowState::Aborted) {
        WindowState::Aborted
    } else if any(WindowState::Settled) {
        WindowState::PendingSettlement
    } else {
        WindowState::Closed
    })
}

/// A settlement's (or a settlement account's) state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SettlementState {
    PendingSettlement,
    PsTransfersRecorded,
    PsTransfersReserved,
    PsTransfersCommitted,
    Settling,
    Settled,
    Aborted,
}

const SETTLEMENT_STATES: &[(SettlementState, &str)] = &[
    (SettlementState::PendingSettlement, "PENDING_SETTLEMENT"),
    (
        SettlementState::PsTransfersRecorded,
        "PS_TRANSFERS_RECORDED",
    ),
    (
        SettlementState::PsTransfersReserved,
        "PS_TRANSFERS_RESERVED",
    ),
    (
        SettlementState::PsTransfersCommitted,
        "PS_TRANSFERS_COMMITTED",
    ),
    (SettlementState::Settling, "SETTLING"),
    (SettlementState::Settled, "SETTLED"),
    (SettlementState::Aborted, "ABORTED"),
];

impl SettlementState {
    /// The `settlementStateId`.
    pub fn id(self) -> &'static str {
        SETTLEMENT_STATES
            .iter()
            .find(|(s, _)| *s == self)
            .map(|(_, id)| *id)
            .unwrap_or("ABORTED")
    }

    pub fn parse(id: &str) -> Option<SettlementState> {
        SETTLEMENT_STATES
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(id))
            .map(|(s, _)| *s)
    }

    /// The next state of an account on the way to SETTLED.
    pub fn next_for_account(self) -> Option<SettlementState> {
        use SettlementState::*;
        match self {
            PendingSettlement => Some(PsTransfersRecorded),
            PsTransfersRecorded => Some(PsTransfersReserved),
            PsTransfersReserved => Some(PsTransfersCommitted),
            PsTransfersCommitted => Some(Settled),
            Settling | Settled | Aborted => None,
        }
    }
}

/// What a requested account state means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountChange {
    /// The account is already there: only the reason and external reference are recorded.
    Record,
    /// The account moves to this state.
    Advance(SettlementState),
}

/// Why an account update is refused (Mojaloop's description, code 3000 per account).
pub const STATE_CHANGE_NOT_ALLOWED: &str = "State change not allowed";

/// Whether an account in `account` state may go to `requested` while its settlement is in
/// `settlement` state. Mojaloop checks only the settlement's state against the requested one;
/// the account must also be one step before the requested state here, so an account cannot
/// skip a step (and have its settlement transfer skip one).
pub fn account_change(
    settlement: SettlementState,
    account: SettlementState,
    requested: SettlementState,
) -> Result<AccountChange, &'static str> {
    use SettlementState::*;
    if matches!(settlement, Aborted | Settled) {
        return Err(STATE_CHANGE_NOT_ALLOWED);
    }
    if requested == account {
        return Ok(AccountChange::Record);
    }
    let allowed_by_settlement = matches!(
        (settlement, requested),
        (PendingSettlement, PsTransfersRecorded)
            | (PsTransfersRecorded, PsTransfersReserved)
            | (PsTransfersReserved, PsTransfersCommitted)
            | (PsTransfersCommitted | Settling, Settled)
    );
    if allowed_by_settlement && account.next_for_account() == Some(requested) {
        Ok(AccountChange::Advance(requested))
    } else {
        Err(STATE_CHANGE_NOT_ALLOWED)
    }
}

/// The settlement's next state given its accounts' states, with the reason Mojaloop writes;
/// `None` when it stays. Applied repeatedly until `None`.
pub fn roll_up(
    current: SettlementState,
    accounts: &[SettlementState],
) -> Option<(SettlementState, &'static str)> {
    use SettlementState::*;
    let any = |state: SettlementState| accounts.contains(&state);
    if accounts.is_empty() {
        return None;
    }
    match current {
        PendingSettlement if !any(PendingSettlement) => Some((
            PsTransfersRecorded,
            "All settlement accounts are PS_TRANSFERS_RECORDED",
        )),
        PsTransfersRecorded if !any(PendingSettlement) && !any(PsTransfersRecorded) => Some((
            PsTransfersReserved,
            "All settlement accounts are PS_TRANSFERS_RESERVED",
        )),
        PsTransfersReserved
            if !any(PendingSettlement)
                && !any(PsTransfersRecorded)
                && !any(PsTransfersReserved) =>
        {
            Some((
                PsTransfersCommitted,
                "All settlement accounts are PS_TRANSFERS_COMMITTED",
            ))
        }
        PsTransfersCommitted | Settling if accounts.iter().all(|s| *s == Settled) => {
            Some((Settled, "All settlement accounts are SETTLED"))
        }
        PsTransfersCommitted if any(Settled) => {
            Some((Settling, "Some settlement accounts are SETTLED"))
        }
        _ => None,
    }
}

/// What aborting a settlement does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abort {
    /// Already aborted: only the reason is recorded.
    RecordReason,
    /// Every account, settlement transfer and window is aborted.
    Proceed,
}

/// Whether a settlement in `state` may be aborted; `any_committed` says whether any of its
/// settlement transfers is committed (money that left the positions for good).
pub fn abort(state: SettlementState, any_committed: bool) -> Result<Abort, &'static str> {
    use SettlementState::*;
    match state {
        Aborted => Ok(Abort::RecordReason),
        PsTransfersCommitted | Settling | Settled => Err(
            "State change is not allowed: a settlement can not be aborted once its transfers are committed",
        ),
        PsTransfersReserved if any_committed => Err(
            "State change is not allowed: a settlement transfer of this settlement is already committed",
        ),
        PendingSettlement | PsTransfersRecorded | PsTransfersReserved => Ok(Abort::Proceed),
    }
}

/// `ledgerEntryType` of a settlement transfer: SETTLEMENT_NET_SENDER (7) for a net sender
/// (owes the hub: `net > 0`), SETTLEMENT_NET_RECIPIENT (6) for a net recipient, SETTLEMENT_NET_ZERO (8).
pub fn settlement_entry_type(net: Money) -> u32 {
    if net.is_negative() {
        6
    } else if net == Money::ZERO {
        8
    } else {
        7
    }
}

/// Position moves of a settlement transfer: the DFSP's POSITION account and the hub's
/// HUB_MULTILATERAL_SETTLEMENT account in the same currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettlementMoves {
    pub dfsp: Money,
    pub hub: Money,
}

/// The moves when an account with net amount `net` reaches `reached`: a net recipient's
/// position goes back towards zero when its transfer is reserved, a net sender's when its
/// transfer is committed (so the hub never pays out before it was paid); the hub account takes
/// the mirror. A net-zero account moves nothing.
pub fn settlement_moves(net: Money, reached: SettlementState) -> Option<SettlementMoves> {
    let recipient = net.is_negative();
    let sender = !recipient && net != Money::ZERO;
    let moves = SettlementMoves {
        dfsp: net.negate(),
        hub: net,
    };
    match reached {
        SettlementState::PsTransfersReserved if recipient => Some(moves),
        SettlementState::PsTransfersCommitted if sender => Some(moves),
        _ => None,
    }
}

/// The moves that undo an account's settlement transfer when its settlement is aborted with
/// the account in `state`: only a reserved net recipient has moved.
pub fn abort_moves(net: Money, state: SettlementState) -> Option<SettlementMoves> {
    match state {
        SettlementState::PsTransfersReserved if net.is_negative() => Some(SettlementMoves {
            dfsp: net,
            hub: net.negate(),
        }),
        _ => None,
    }
}

/// A settlement model as aggregation needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    pub id: u32,
    pub ledger_account_type_id: u32,
    /// `None`: the default model for currencies without a model of their own.
    pub currency: Option<String>,
    /// NET granularity and DEFERRED delay: settled through windows.
    pub deferred_net: bool,
    /// GROSS granularity and IMMEDIATE delay: settled as each transfer commits.
    pub immediate_gross: bool,
    pub is_active: bool,
}

/// The model that governs an account type in a currency: the active model for that currency,
/// else the active default model.
pub fn model_for<'a>(models: &'a [Model], account_type: u32, currency: &str) -> Option<&'a Model> {
    let of_type = || {
        models
            .iter()
            .filter(move |m| m.is_active && m.ledger_account_type_id == account_type)
    };
    of_type()
        .find(|m| m.currency.as_deref() == Some(currency))
        .or_else(|| of_type().find(|m| m.currency.is_none()))
}

/// Role of an aggregation row: PAYER_DFSP (1) for increases of a position, PAYEE_DFSP (2) for
/// decreases.
pub const ROLE_PAYER_DFSP: u32 = 1;
pub const ROLE_PAYEE_DFSP: u32 = 2;

/// A window's position changes summed per account and direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movement {
    pub account: u32,
    pub account_type: u32,
    pub currency: String,
    /// The sum of the increases (`true`) or of the decreases (`false`).
    pub increase: bool,
    pub amount: Money,
}

/// One content of a closed window: an account type and currency settled by a NET model, with
/// the aggregation rows `(account, role, amount)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    pub account_type: u32,
    pub currency: String,
    pub model_id: u32,
    pub rows: Vec<(u32, u32, Money)>,
}

/// Groups a window's movements into contents; movements whose account type and currency have
/// no deferred net model are not settled through windows and are left out.
pub fn aggregate(movements: &[Movement], models: &[Model]) -> Vec<Content> {
    let mut contents: Vec<Content> = Vec::new();
    for movement in movements {
        let Some(model) =
            model_for(models, movement.account_type, &movement.currency).filter(|m| m.deferred_net)
        else {
            continue;
        };
        let role = if movement.increase {
            ROLE_PAYER_DFSP
        } else {
            ROLE_PAYEE_DFSP
        };
        let row = (movement.account, role, movement.amount);
        match contents
            .iter_mut()
            .find(|c| c.account_type == movement.account_type && c.currency == movement.currency)
        {
            Some(content) => content.rows.push(row),
            None => contents.push(Content {
                account_type: movement.account_type,
                currency: movement.currency.clone(),
                model_id: model.id,
                rows: vec![row],
            }),
        }
    }
    contents
}

/// Whether a content (account type, currency) belongs to a settlement of `model`: the model's
/// own currency, or, for a default model, any currency without an active model of its own.
pub fn content_belongs_to(
    model: &Model,
    models: &[Model],
    account_type: u32,
    currency: &str,
) -> bool {
    model.ledger_account_type_id == account_type
        && model_for(models, account_type, currency).map(|m| m.id) == Some(model.id)
}

#[cfg(test)]
mod tests {
    use super::SettlementState::*;
    use super::*;

    fn money(text: &str) -> Money {
        Money::parse(text).unwrap_or_default()
    }

    #[test]
    fn state_ids_round_trip() {
        for (state, id) in SETTLEMENT_STATES {
            assert_eq!(state.id(), *id);
            assert_eq!(SettlementState::parse(id), Some(*state));
        }
        for (state, id) in WINDOW_STATES {
            assert_eq!(state.id(), *id);
            assert_eq!(WindowState::parse(id), Some(*state));
        }
        assert_eq!(SettlementState::parse("settled"), Some(Settled));
        assert_eq!(SettlementState::parse("DONE"), None);
    }

    #[test]
    fn accounts_advance_one_step_with_their_settlement() {
        assert_eq!(
            account_change(PendingSettlement, PendingSettlement, PsTransfersRecorded),
            Ok(AccountChange::Advance(PsTransfersRecorded))
        );
        assert_eq!(
            account_change(PsTransfersCommitted, PsTransfersCommitted, Settled),
            Ok(AccountChange::Advance(Settled))
        );
        assert_eq!(
            account_change(Settling, PsTransfersCommitted, Settled),
            Ok(AccountChange::Advance(Settled))
        );
        // Same state: recorded again.
        assert_eq!(
            account_change(PendingSettlement, PsTransfersRecorded, PsTransfersRecorded),
            Ok(AccountChange::Record)
        );
        // Skipping a step, running ahead of the settlement, going back, or after the end.
        for (settlement, account, requested) in [
            (PendingSettlement, PendingSettlement, PsTransfersReserved),
            (PendingSettlement, PsTransfersRecorded, PsTransfersReserved),
            (PsTransfersRecorded, PsTransfersRecorded, PendingSettlement),
            (PsTransfersReserved, PsTransfersReserved, Settled),
            (PendingSettlement, PendingSettlement, Settled),
            (Aborted, PendingSettlement, PsTransfersRecorded),
            (Aborted, Aborted, Aborted),
            (Settled, Settled, Settled),
            (PendingSettlement, PendingSettlement, Aborted),
        ] {
            assert_eq!(
                account_change(settlement, account, requested),
                Err(STATE_CHANGE_NOT_ALLOWED),
                "{settlement:?} {account:?} -> {requested:?}"
            );
        }
    }

    #[test]
    fn settlement_follows_its_accounts() {
        assert_eq!(
            roll_up(PendingSettlement, &[PsTransfersRecorded, PendingSettlement]),
            None
        );
        assert_eq!(
            roll_up(
                PendingSettlement,
                &[PsTransfersRecorded, PsTransfersRecorded]
            )
            .map(|r| r.0),
            Some(PsTransfersRecorded)
        );
        assert_eq!(
            roll_up(
                PsTransfersRecorded,
                &[PsTransfersReserved, PsTransfersReserved]
            )
            .map(|r| r.0),
            Some(PsTransfersReserved)
        );
        assert_eq!(
            roll_up(PsTransfersReserved, &[PsTransfersCommitted]).map(|r| r.0),
            Some(PsTransfersCommitted)
        );
        assert_eq!(
            roll_up(PsTransfersCommitted, &[Settled, PsTransfersCommitted]),
            Some((Settling, "Some settlement accounts are SETTLED"))
        );
        assert_eq!(roll_up(Settling, &[Settled, PsTransfersCommitted]), None);
        assert_eq!(
            roll_up(Settling, &[Settled, Settled]).map(|r| r.0),
            Some(Settled)
        );
        assert_eq!(
            roll_up(PsTransfersCommitted, &[Settled]).map(|r| r.0),
            Some(Settled)
        );
        assert_eq!(roll_up(Settled, &[Settled]), None);
        assert_eq!(roll_up(PendingSettlement, &[]), None);
    }

    #[test]
    fn abort_is_refused_once_money_is_committed() {
        assert_eq!(abort(PendingSettlement, false), Ok(Abort::Proceed));
        assert_eq!(abort(PsTransfersRecorded, false), Ok(Abort::Proceed));
        assert_eq!(abort(PsTransfersReserved, false), Ok(Abort::Proceed));
        assert!(abort(PsTransfersReserved, true).is_err());
        assert!(abort(PsTransfersCommitted, false).is_err());
        assert!(abort(Settling, false).is_err());
        assert!(abort(Settled, false).is_err());
        assert_eq!(abort(Aborted, false), Ok(Abort::RecordReason));
    }

    #[test]
    fn a_full_cycle_brings_positions_back_and_the_hub_to_zero() {
        // The spec's worked example: dfsp1 paid dfsp2 100.
        let (sender, recipient) = (money("100"), money("-100"));
        let (mut dfsp1, mut dfsp2, mut hub) = (money("100"), money("-100"), Money::ZERO);
        for reached in [
            PsTransfersRecorded,
            PsTransfersReserved,
            PsTransfersCommitted,
            Settled,
        ] {
            for (net, position) in [(sender, &mut dfsp1), (recipient, &mut dfsp2)] {
                if let Some(moves) = settlement_moves(net, reached) {
                    *position = position.try_add(moves.dfsp).unwrap_or_default();
                    hub = hub.try_add(moves.hub).unwrap_or_default();
                }
            }
            if reached == PsTransfersReserved {
                // The recipient is back to zero first; the hub is owed until the sender pays.
                assert_eq!(
                    (dfsp1, dfsp2, hub),
                    (money("100"), Money::ZERO, money("-100"))
                );
            }
        }
        assert_eq!((dfsp1, dfsp2, hub), (Money::ZERO, Money::ZERO, Money::ZERO));
        assert_eq!(settlement_moves(Money::ZERO, PsTransfersReserved), None);
        assert_eq!(settlement_moves(Money::ZERO, PsTransfersCommitted), None);
    }

    #[test]
    fn abort_undoes_a_reserved_recipient_only() {
        let recipient = money("-40");
        let reserved = settlement_moves(recipient, PsTransfersReserved);
        let undone = abort_moves(recipient, PsTransfersReserved);
        assert_eq!(
            reserved
                .zip(undone)
                .map(|(a, b)| (a.dfsp.try_add(b.dfsp).ok(), a.hub.try_add(b.hub).ok())),
            Some((Some(Money::ZERO), Some(Money::ZERO)))
        );
        assert_eq!(abort_moves(recipient, PsTransfersRecorded), None);
        assert_eq!(abort_moves(money("40"), PsTransfersReserved), None);
    }

    #[test]
    fn entry_types_follow_the_sign() {
        assert_eq!(settlement_entry_type(money("1")), 7);
        assert_eq!(settlement_entry_type(money("-1")), 6);
        assert_eq!(settlement_entry_type(Money::ZERO), 8);
    }

    fn model(id: u32, currency: Option<&str>, deferred_net: bool) -> Model {
        Model {
            id,
            ledger_account_type_id: 1,
            currency: currency.map(str::to_string),
            deferred_net,
            immediate_gross: !deferred_net,
            is_active: true,
        }
    }

    #[test]
    fn a_currency_model_wins_over_the_default() {
        let models = [model(1, None, true), model(2, Some("EUR"), false)];
        assert_eq!(model_for(&models, 1, "USD").map(|m| m.id), Some(1));
        assert_eq!(model_for(&models, 1, "EUR").map(|m| m.id), Some(2));
        assert_eq!(model_for(&models, 2, "USD"), None);
        let default = &models[0];
        assert!(content_belongs_to(default, &models, 1, "USD"));
        assert!(!content_belongs_to(default, &models, 1, "EUR"));
        let mut inactive = models.clone();
        inactive[1].is_active = false;
        assert_eq!(model_for(&inactive, 1, "EUR").map(|m| m.id), Some(1));
    }

    #[test]
    fn aggregation_keeps_net_models_and_splits_by_direction() {
        let models = [model(1, None, true), model(2, Some("EUR"), false)];
        let movement = |account, currency: &str, increase, amount| Movement {
            account,
            account_type: 1,
            currency: currency.to_string(),
            increase,
            amount: money(amount),
        };
        let contents = aggregate(
            &[
                movement(10, "USD", true, "150"),
                movement(10, "USD", false, "-50"),
                movement(11, "USD", false, "-100"),
                movement(12, "EUR", true, "7"),
            ],
            &models,
        );
        assert_eq!(contents.len(), 1, "EUR is settled gross: {contents:?}");
        let usd = &contents[0];
        assert_eq!((usd.currency.as_str(), usd.model_id), ("USD", 1));
        assert_eq!(
            usd.rows,
            vec![
                (10, ROLE_PAYER_DFSP, money("150")),
                (10, ROLE_PAYEE_DFSP, money("-50")),
                (11, ROLE_PAYEE_DFSP, money("-100")),
            ]
        );
    }

    #[test]
    fn window_state_follows_its_contents() {
        use WindowState::*;
        assert_eq!(window_state_from_contents(&[]), None);
        assert_eq!(window_state_from_contents(&[Closed]), Some(Closed));
        assert_eq!(
            window_state_from_contents(&[Closed, PendingSettlement]),
            Some(PendingSettlement)
        );
        assert_eq!(
            window_state_from_contents(&[Settled, Settled]),
            Some(Settled)
        );
        assert_eq!(
            window_state_from_contents(&[Settled, Closed]),
            Some(PendingSettlement)
        );
        assert_eq!(
            window_state_from_contents(&[Aborted, Settled]),
            Some(Aborted)
        );
        assert_eq!(
            window_state_from_contents(&[Aborted, PendingSettlement]),
            Some(PendingSettlement)
        );
    }
}
