//! A seeded simulation of the ledger's pure decisions (TigerBeetle-style): random batches of
//! prepares (new ones, resends, over the limit, beyond the funds, many on the same payer),
//! commits, aborts and expiries are decided by `ledger::transfer` and applied to a model of
//! the ledger as the handlers apply them; after every step the ledger's invariants are
//! checked:
//!
//! - positions moved by exactly the reserved amounts still outstanding (every finished
//!   transfer's moves sum to zero);
//! - each transfer reserved at most once and finished at most once;
//! - no payer's position past its net debit cap or its funds;
//! - every state change a legal transition (`can_transition`);
//! - a batch decides as the prepares would one by one in arrival order.
//!
//! `SIM_SEED` replays a run; `SIM_STEPS` sets its length. The seed is printed, and named in
//! every failure.

#![allow(clippy::panic, clippy::indexing_slicing, reason = "test code")]

use std::collections::BTreeMap;

use ledger::fx::{self, Conversion};
use ledger::transfer::{
    abort, can_transition, commit, decide_prepares, expire, AccountId, BatchPrepare, PayerAccount,
    Posting, PrepareRejection, ReservedTransfer, State,
};
use ledger::Money;

/// SplitMix64: small, fast, and the same on every machine for a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

struct Account {
    position: Money,
    net_debit_cap: Money,
    /// SETTLEMENT value: the negative of the funds held.
    settlement_value: Money,
}

struct Transfer {
    state: State,
    amount: Money,
    payer: AccountId,
    payee: AccountId,
    expires_at: u64,
    reserved_moves: u32,
    final_moves: u32,
}

struct Ledger {
    seed: u64,
    accounts: BTreeMap<AccountId, Account>,
    initial: Money,
    transfers: BTreeMap<u64, Transfer>,
    /// The transfers now RESERVED.
    reserved: std::collections::BTreeSet<u64>,
    /// Currency conversions not finished yet.
    conversions: Vec<OpenConversion>,
}

/// A conversion under way: the fxTransfer's state and whether its dependent transfer is
/// reserved.
struct OpenConversion {
    conversion: Conversion,
    fx: State,
    dependent_reserved: bool,
}

impl OpenConversion {
    /// What it holds reserved.
    fn outstanding(&self) -> i64 {
        let fx = if matches!(self.fx, State::Reserved | State::ReceivedFulfilDependent) {
            self.conversion.source_amount.units()
        } else {
            0
        };
        let dependent = if self.dependent_reserved {
            self.conversion.target_amount.units()
        } else {
            0
        };
        fx + dependent
    }
}

fn units(n: i64) -> Money {
    Money::from_units(n).unwrap_or_else(|| panic!("{n} units"))
}

impl Ledger {
    fn new(seed: u64, rng: &mut Rng, count: u32) -> Ledger {
        let mut accounts = BTreeMap::new();
        for id in 1..=count {
            let funds = rng.below(2_000_000) as i64;
            accounts.insert(
                id,
                Account {
                    position: Money::ZERO,
                    net_debit_cap: units(rng.below(2_000_000) as i64),
                    settlement_value: units(-funds),
                },
            );
        }
        Ledger {
            seed,
            accounts,
            initial: Money::ZERO,
            transfers: BTreeMap::new(),
            reserved: Default::default(),
            conversions: Vec::new(),
        }
    }

    fn transition(&mut self, id: u64, to: State) {
        let seed = self.seed;
        let transfer = self
            .transfers
            .get_mut(&id)
            .unwrap_or_else(|| panic!("seed {seed}: no {id}"));
        assert!(
            can_transition(Some(transfer.state), to),
            "seed {seed}: transfer {id} {:?} -> {to:?}",
            transfer.state
        );
        transfer.state = to;
        if to == State::Reserved {
            self.reserved.insert(id);
        } else {
            self.reserved.remove(&id);
        }
    }

    fn apply(&mut self, account: AccountId, change: Money) {
        let seed = self.seed;
        let entry = self
            .accounts
            .get_mut(&account)
            .unwrap_or_else(|| panic!("seed {seed}: account {account}"));
        entry.position = entry
            .position
            .try_add(change)
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    }

    /// A finishing posting applied as the book applies it: the path's transitions, the moves.
    fn post(&mut self, id: u64, posting: &Posting) {
        for to in posting.path {
            self.transition(id, *to);
        }
        for (account, change) in &posting.moves {
            self.apply(*account, *change);
        }
        if let Some(t) = self.transfers.get_mut(&id) {
            t.final_moves += 1;
            assert!(
                t.final_moves == 1 && t.reserved_moves == 1,
                "seed {}: transfer {id} finished twice or without a reservation",
                self.seed
            );
        }
    }

    fn snapshot(&self, account: AccountId) -> Option<PayerAccount> {
        self.accounts.get(&account).map(|a| PayerAccount {
            position: a.position,
            reserved: Money::ZERO,
            net_debit_cap: a.net_debit_cap,
            settlement_value: a.settlement_value,
        })
    }

    /// One prepare at a time in arrival order: what the batch must agree with.
    fn one_by_one(&self, batch: &[BatchPrepare]) -> Vec<Result<(), PrepareRejection>> {
        let mut positions: BTreeMap<AccountId, Money> = self
            .accounts
            .iter()
            .map(|(id, a)| (*id, a.position))
            .collect();
        batch
            .iter()
            .map(|p| {
                let account = &self.accounts[&p.payer_account];
                let position = positions[&p.payer_account];
                let funds_left = account.settlement_value.negate().try_sub(position).ok();
                let cap_left = account.net_debit_cap.try_sub(position).ok();
                if funds_left.is_none_or(|left| p.amount > left) {
                    return Err(PrepareRejection::InsufficientLiquidity);
                }
                if cap_left.is_none_or(|left| p.amount > left) {
                    return Err(PrepareRejection::NetDebitCapExceeded);
                }
                let after = position
                    .try_add(p.amount)
                    .map_err(|_| PrepareRejection::NetDebitCapExceeded)?;
                positions.insert(p.payer_account, after);
                Ok(())
            })
            .collect()
    }

    fn check(&self, step: u64) {
        let seed = self.seed;
        let total: i64 = self.accounts.values().map(|a| a.position.units()).sum();
        let outstanding: i64 = self
            .reserved
            .iter()
            .map(|id| self.transfers[id].amount.units())
            .sum::<i64>()
            + self
                .conversions
                .iter()
                .map(OpenConversion::outstanding)
                .sum::<i64>();
        assert_eq!(
            total - self.initial.units(),
            outstanding,
            "seed {seed} step {step}: positions moved by other than the reserved amounts"
        );
    }
}

impl Ledger {
    /// A reservation decided as the ledger decides a prepare; whether it was made (and then
    /// within the account's cap and funds).
    fn reserve(&mut self, prepare: BatchPrepare, step: u64) -> bool {
        let decisions = decide_prepares(&[prepare], &|account| self.snapshot(account));
        let reserved = decisions.outcomes.first().is_some_and(Result::is_ok);
        for (_, account, change) in &decisions.moves {
            self.apply(*account, *change);
            let a = &self.accounts[account];
            assert!(
                a.position <= a.net_debit_cap && a.position <= a.settlement_value.negate(),
                "seed {} step {step}: conversion reserved account {account} past its cap or funds",
                self.seed
            );
        }
        reserved
    }

    /// Applies a posting of a conversion leg from `from`, checking each transition.
    fn post_leg(&mut self, from: State, posting: &Posting, step: u64) -> State {
        let mut state = from;
        for to in posting.path {
            assert!(
                can_transition(Some(state), *to),
                "seed {} step {step}: conversion {state:?} -> {to:?}",
                self.seed
            );
            state = *to;
        }
        for (account, change) in &posting.moves {
            self.apply(*account, *change);
        }
        state
    }

    /// Starts a conversion between four distinct accounts; whether its fxTransfer reserved.
    fn start_conversion(&mut self, rng: &mut Rng, step: u64) -> bool {
        let ids: Vec<AccountId> = self.accounts.keys().copied().collect();
        let mut picked: Vec<AccountId> = Vec::new();
        while picked.len() < 4 {
            let id = ids[rng.below(ids.len() as u64) as usize];
            if !picked.contains(&id) {
                picked.push(id);
            }
        }
        let conversion = Conversion {
            source_amount: units(1 + rng.below(100_000) as i64),
            target_amount: units(1 + rng.below(100_000) as i64),
            initiator_source: picked[0],
            fxp_source: picked[1],
            fxp_target: picked[2],
            payee_target: picked[3],
        };
        if !self.reserve(conversion.fx_reservation(), step) {
            return false;
        }
        assert_eq!(
            fx::commit(&conversion, State::Reserved),
            None,
            "nothing commits before the FXP fulfils"
        );
        self.conversions.push(OpenConversion {
            conversion,
            fx: State::Reserved,
            dependent_reserved: false,
        });
        true
    }

    /// Moves a conversion one step on; whether it committed.
    fn advance_conversion(&mut self, rng: &mut Rng, index: usize, step: u64) -> bool {
        let seed = self.seed;
        let OpenConversion {
            conversion,
            fx: fx_state,
            dependent_reserved,
        } = self.conversions.swap_remove(index);
        let roll = rng.below(100);
        let finish = match (fx_state, dependent_reserved) {
            (State::Reserved, _) if roll < 60 => {
                let state = self.post_leg(fx_state, &fx::fx_fulfil(), step);
                self.conversions.push(OpenConversion {
                    conversion,
                    fx: state,
                    dependent_reserved: false,
                });
                return false;
            }
            (State::Reserved, _) if roll < 80 => fx::abort(&conversion, fx_state, false),
            (State::Reserved, _) => fx::expire(&conversion, fx_state, false),
            (State::ReceivedFulfilDependent, false) if roll < 70 => {
                if self.reserve(conversion.dependent_reservation(), step) {
                    self.conversions.push(OpenConversion {
                        conversion,
                        fx: fx_state,
                        dependent_reserved: true,
                    });
                    return false;
                }
                // The FXP cannot pay the payee: the conversion aborts.
                fx::abort(&conversion, fx_state, false)
            }
            (State::ReceivedFulfilDependent, false) => fx::expire(&conversion, fx_state, false),
            (State::ReceivedFulfilDependent, true) if roll < 60 => {
                fx::commit(&conversion, fx_state)
            }
            (State::ReceivedFulfilDependent, true) if roll < 85 => {
                fx::abort(&conversion, fx_state, true)
            }
            (State::ReceivedFulfilDependent, true) => fx::expire(&conversion, fx_state, true),
            (other, _) => panic!("seed {seed} step {step}: open conversion in {other:?}"),
        };
        let finish = finish
            .unwrap_or_else(|| panic!("seed {seed} step {step}: no finish from {fx_state:?}"));
        let committed = finish.fx.path.last() == Some(&State::Committed);
        self.post_leg(fx_state, &finish.fx, step);
        assert_eq!(
            finish.dependent.is_some(),
            dependent_reserved,
            "seed {seed} step {step}: the dependent transfer finishes iff it was reserved"
        );
        if let Some(dependent) = &finish.dependent {
            self.post_leg(State::Reserved, dependent, step);
        }
        committed
    }
}

#[test]
fn the_ledger_keeps_its_invariants_under_random_batches() {
    let seed = std::env::var("SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    let steps: u64 = std::env::var("SIM_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5_000);
    println!("simulation seed {seed} ({steps} steps); replay with SIM_SEED={seed}");
    let mut rng = Rng(seed);
    let count = 4 + rng.below(6) as u32;
    let mut ledger = Ledger::new(seed, &mut rng, count);
    let account_count = ledger.accounts.len() as u64;
    let mut next_id: u64 = 1;
    let mut now: u64 = 0;
    let (mut reserved, mut refused, mut committed, mut aborted, mut expired) = (0, 0, 0, 0, 0);
    let (mut conversions_started, mut conversions_committed) = (0_u64, 0_u64);
    for step in 0..steps {
        now += rng.below(50);
        // A batch of prepares: new transfers, some resends of earlier ids (skipped as the
        // handler's duplicate check skips them), amounts from tiny to beyond any cap.
        let size = 1 + rng.below(30);
        let mut batch = Vec::new();
        let mut batch_ids = Vec::new();
        for _ in 0..size {
            if rng.chance(10) && next_id > 1 {
                let resend = 1 + rng.below(next_id - 1);
                assert!(ledger.transfers.contains_key(&resend) || batch_ids.contains(&resend));
                continue;
            }
            let payer = 1 + rng.below(account_count) as AccountId;
            let mut payee = 1 + rng.below(account_count) as AccountId;
            if payee == payer {
                payee = payer % account_count as AccountId + 1;
            }
            let amount = match rng.below(10) {
                0 => units(1 + rng.below(5_000_000) as i64),
                _ => units(1 + rng.below(100_000) as i64),
            };
            let id = next_id;
            next_id += 1;
            ledger.transfers.insert(
                id,
                Transfer {
                    state: State::ReceivedPrepare,
                    amount,
                    payer,
                    payee,
                    expires_at: now + rng.below(2_000),
                    reserved_moves: 0,
                    final_moves: 0,
                },
            );
            batch.push(BatchPrepare {
                payer_account: payer,
                amount,
            });
            batch_ids.push(id);
        }
        let expected = ledger.one_by_one(&batch);
        let decisions = decide_prepares(&batch, &|account| ledger.snapshot(account));
        assert_eq!(
            decisions
                .outcomes
                .iter()
                .map(|o| o.map(|_| ()))
                .collect::<Vec<_>>(),
            expected,
            "seed {seed} step {step}: the batch decided otherwise than one by one"
        );
        for (index, outcome) in decisions.outcomes.iter().enumerate() {
            let id = batch_ids[index];
            match outcome {
                Ok(_) => {
                    ledger.transition(id, State::Reserved);
                    reserved += 1;
                }
                Err(_) => {
                    ledger.transition(id, State::AbortedRejected);
                    refused += 1;
                }
            }
        }
        let mut moved: Vec<AccountId> = Vec::new();
        for (index, account, change) in &decisions.moves {
            moved.push(*account);
            assert_eq!(
                ledger.transfers[&batch_ids[*index]].state,
                State::Reserved,
                "seed {seed} step {step}: a move for a refused prepare"
            );
            ledger.apply(*account, *change);
            if let Some(t) = ledger.transfers.get_mut(&batch_ids[*index]) {
                t.reserved_moves += 1;
                assert_eq!(
                    t.reserved_moves, 1,
                    "seed {seed} step {step}: reserved twice"
                );
            }
        }
        // No payer reserved past its net debit cap or its funds.
        for account in moved {
            let a = &ledger.accounts[&account];
            assert!(
                a.position <= a.net_debit_cap && a.position <= a.settlement_value.negate(),
                "seed {seed} step {step}: account {account} reserved to {} past its cap {} or funds {}",
                a.position,
                a.net_debit_cap,
                a.settlement_value.negate()
            );
        }
        // Fulfils and errors on random transfers (late ones, repeated ones, on finished
        // transfers: refused as the handler refuses what is not RESERVED), then the sweep.
        for _ in 0..rng.below(20) {
            // Mostly a reserved transfer, sometimes any (a late or repeated callback).
            let id = if rng.chance(80) && !ledger.reserved.is_empty() {
                let pick = rng.below(ledger.reserved.len() as u64) as usize;
                ledger.reserved.iter().nth(pick).copied().unwrap_or(1)
            } else {
                1 + rng.below(next_id.max(2) - 1)
            };
            let Some(t) = ledger.transfers.get(&id) else {
                continue;
            };
            if t.state != State::Reserved {
                continue;
            }
            let r = ReservedTransfer {
                amount: t.amount,
                payer_account: t.payer,
                payee_account: t.payee,
            };
            if t.expires_at <= now {
                continue; // refused 3303 by the handler; the sweep expires it
            }
            if rng.chance(70) {
                ledger.post(id, &commit(r));
                committed += 1;
            } else {
                ledger.post(id, &abort(r));
                aborted += 1;
            }
        }
        let due: Vec<u64> = ledger
            .reserved
            .iter()
            .filter(|id| ledger.transfers[*id].expires_at <= now)
            .copied()
            .collect();
        for id in due {
            let t = &ledger.transfers[&id];
            let posting = expire(ReservedTransfer {
                amount: t.amount,
                payer_account: t.payer,
                payee_account: t.payee,
            });
            ledger.post(id, &posting);
            expired += 1;
        }
        // Currency conversions: started, fulfilled by the FXP, their dependent transfer
        // reserved on the FXP, then committed, aborted or expired together.
        if account_count >= 4 && rng.chance(40) {
            conversions_started += u64::from(ledger.start_conversion(&mut rng, step));
        }
        if !ledger.conversions.is_empty() && rng.chance(60) {
            let index = rng.below(ledger.conversions.len() as u64) as usize;
            if ledger.advance_conversion(&mut rng, index, step) {
                conversions_committed += 1;
            }
        }
        // Now and then funds arrive or leave (settlement), moving the liquidity bound.
        if rng.chance(5) {
            let account = 1 + rng.below(account_count) as AccountId;
            if let Some(a) = ledger.accounts.get_mut(&account) {
                a.settlement_value = units(-(rng.below(2_000_000) as i64));
                a.net_debit_cap = units(rng.below(2_000_000) as i64);
            }
        }
        ledger.check(step);
    }
    println!(
        "seed {seed}: {reserved} reserved, {refused} refused, {committed} committed, {aborted} aborted, {expired} expired; {conversions_started} conversions started, {conversions_committed} committed"
    );
    assert!(
        conversions_started > 0 && conversions_committed > 0,
        "seed {seed}: no conversion went through"
    );
    assert!(
        reserved > 0 && refused > 0 && committed > 0 && expired > 0,
        "seed {seed}: a thin run"
    );
}
