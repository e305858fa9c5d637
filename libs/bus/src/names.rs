//! The topic and consumer-group names of the Mojaloop switch (central-ledger spec §2.1 and
//! §2.4), so a Rust service lands on the same topics as the Node services it replaces.

/// Broker list used when `KAFKA_BROKERS` is not set (local runs and tests).
pub const KAFKA_BROKERS_DEFAULT: &str = "127.0.0.1:9092";

// Topic names (central-ledger spec §2.1, Mojaloop's `TopicMap`).

/// Prepare requests (POST /transfers, fx-prepare, forwarded) from the API adapter to the ledger.
pub const TOPIC_TRANSFER_PREPARE: &str = "topic-transfer-prepare";
/// Fulfil requests (PUT /transfers/{id}, PUT …/error, fx variants) to the ledger.
pub const TOPIC_TRANSFER_FULFIL: &str = "topic-transfer-fulfil";
/// GET /transfers/{id} requests to the ledger.
pub const TOPIC_TRANSFER_GET: &str = "topic-transfer-get";
/// Position changes for the legacy single-message position handler.
pub const TOPIC_TRANSFER_POSITION: &str = "topic-transfer-position";
/// Position changes for the batch position handler. The rewrite sends every position action
/// here, keyed by `participantCurrencyId`, so one account's changes stay in one partition.
pub const TOPIC_TRANSFER_POSITION_BATCH: &str = "topic-transfer-position-batch";
/// Notifications from the ledger to the API adapter's notification handler (callbacks to DFSPs).
pub const TOPIC_NOTIFICATION_EVENT: &str = "topic-notification-event";
/// Funds in / funds out requests from the admin API.
pub const TOPIC_ADMIN_TRANSFER: &str = "topic-admin-transfer";
/// Bulk transfer prepare.
pub const TOPIC_BULK_PREPARE: &str = "topic-bulk-prepare";
/// Bulk transfer fulfil.
pub const TOPIC_BULK_FULFIL: &str = "topic-bulk-fulfil";
/// Bulk transfer processing.
pub const TOPIC_BULK_PROCESSING: &str = "topic-bulk-processing";
/// Bulk transfer get.
pub const TOPIC_BULK_GET: &str = "topic-bulk-get";
/// Deferred settlement window close (central-settlement).
pub const TOPIC_DEFERREDSETTLEMENT_CLOSE: &str = "topic-deferredsettlement-close";

/// Every topic named above, for [`ensure_topics`] at start-up.
pub const TOPICS_ALL: &[&str] = &[
    TOPIC_TRANSFER_PREPARE,
    TOPIC_TRANSFER_FULFIL,
    TOPIC_TRANSFER_GET,
    TOPIC_TRANSFER_POSITION,
    TOPIC_TRANSFER_POSITION_BATCH,
    TOPIC_NOTIFICATION_EVENT,
    TOPIC_ADMIN_TRANSFER,
    TOPIC_BULK_PREPARE,
    TOPIC_BULK_FULFIL,
    TOPIC_BULK_PROCESSING,
    TOPIC_BULK_GET,
    TOPIC_DEFERREDSETTLEMENT_CLOSE,
];

// Consumer group ids (central-ledger spec §2.4).

/// Group of the prepare handler.
pub const GROUP_TRANSFER_PREPARE: &str = "cl-group-transfer-prepare";
/// Group of the fulfil handler.
pub const GROUP_TRANSFER_FULFIL: &str = "cl-group-transfer-fulfil";
/// Group of the get handler.
pub const GROUP_TRANSFER_GET: &str = "cl-group-transfer-get";
/// Group of the legacy position handler.
pub const GROUP_TRANSFER_POSITION: &str = "cl-group-transfer-position";
/// Group of the bulk prepare handler.
pub const GROUP_BULK_PREPARE: &str = "cl-group-bulk-prepare";
/// Group of the bulk fulfil handler.
pub const GROUP_BULK_FULFIL: &str = "cl-group-bulk-fulfil";
/// Group of the bulk get handler.
pub const GROUP_BULK_GET: &str = "cl-group-bulk-get";
/// Group of the batch position handler.
pub const GROUP_TRANSFER_POSITION_BATCH: &str = "cl-group-transfer-position-batch";
/// Group of the admin (funds in/out) handler.
pub const GROUP_TRANSFER_ADMIN: &str = "cl-group-transfer-admin";
/// Group of central-settlement's window-close handler.
pub const GROUP_DEFERREDSETTLEMENT_CLOSE: &str = "cs-group-deferredsettlement-close";
/// Group of central-settlement's gross settlement handler (reads notifications).
pub const GROUP_SETTLEMENT_NOTIFICATION_EVENT: &str = "cs-group-notification-event";
