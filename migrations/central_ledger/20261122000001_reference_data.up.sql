-- Reference data of the central ledger: the enumeration tables and their seed rows.
--
-- Table and column names, types and index names are Mojaloop's (central-ledger v19.14.0, see
-- central-ledger.md Appendix A and B), so queries written against Mojaloop's schema still work.
-- Rows are inserted with explicit ids, in Mojaloop's seed order, so the ids do not depend on the
-- server's auto_increment settings.
--
-- Charset: utf8mb4 with the server's default collation for it. Tables added later that refer to
-- these (for example transfer.currencyId -> currency.currencyId) must use the same clause, or
-- MySQL refuses the foreign key.

-- Currencies: the 164 codes of the FSPIOP API's Currency enum (identical in v1.1 and v2.0).
-- `scale` is the ISO 4217 minor unit. Codes ISO gives no minor unit (XDR, XTS, XXX) and the
-- non-ISO codes the API accepts (GGP, IMP, JEP, SPL, TVD) keep Mojaloop's default of 4.
-- Mojaloop seeds BYN and ZWD with 4; ISO 4217 says 2 for both, and 2 is used here.
CREATE TABLE `currency` (
  `currencyId` VARCHAR(3) NOT NULL,
  `name` VARCHAR(128) NULL,
  `isActive` TINYINT(1) NOT NULL DEFAULT 1,
  `createdDate` DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `scale` INT UNSIGNED NOT NULL DEFAULT 4,
  PRIMARY KEY (`currencyId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO `currency` (`currencyId`, `name`, `scale`) VALUES
  ('AED', 'UAE dirham', 2),
  ('AFN', 'Afghanistan afghani', 2),
  ('ALL', 'Albanian lek', 2),
  ('AMD', 'Armenian dram', 2),
  ('ANG', 'Netherlands Antillian guilder', 2),
  ('AOA', 'Angolan kwanza', 2),
  ('ARS', 'Argentine peso', 2),
  ('AUD', 'Australian dollar', 2),
  ('AWG', 'Aruban guilder', 2),
  ('AZN', 'Azerbaijanian new manat', 2),
  ('BAM', 'Bosnia-Herzegovina convertible mark', 2),
  ('BBD', 'Barbados dollar', 2),
  ('BDT', 'Bangladeshi taka', 2),
  ('BGN', 'Bulgarian lev', 2),
  ('BHD', 'Bahraini dinar', 3),
  ('BIF', 'Burundi franc', 0),
  ('BMD', 'Bermudian dollar', 2),
  ('BND', 'Brunei dollar', 2),
  ('BOB', 'Bolivian boliviano', 2),
  ('BRL', 'Brazilian real', 2),
  ('BSD', 'Bahamian dollar', 2),
  ('BTN', 'Bhutan ngultrum', 2),
  ('BWP', 'Botswana pula', 2),
  ('BYN', 'Belarusian ruble', 2),
  ('BZD', 'Belize dollar', 2),
  ('CAD', 'Canadian dollar', 2),
  ('CDF', 'Congolese franc', 2),
  ('CHF', 'Swiss franc', 2),
  ('CLP', 'Chilean peso', 0),
  ('CNY', 'Chinese yuan renminbi', 2),
  ('COP', 'Colombian peso', 2),
  ('CRC', 'Costa Rican colon', 2),
  ('CUC', 'Cuban convertible peso', 2),
  ('CUP', 'Cuban peso', 2),
  ('CVE', 'Cape Verde escudo', 2),
  ('CZK', 'Czech koruna', 2),
  ('DJF', 'Djibouti franc', 0),
  ('DKK', 'Danish krone', 2),
  ('DOP', 'Dominican peso', 2),
  ('DZD', 'Algerian dinar', 2),
  ('EGP', 'Egyptian pound', 2),
  ('ERN', 'Eritrean nakfa', 2),
  ('ETB', 'Ethiopian birr', 2),
  ('EUR', 'EU euro', 2),
  ('FJD', 'Fiji dollar', 2),
  ('FKP', 'Falkland Islands pound', 2),
  ('GBP', 'British pound', 2),
  ('GEL', 'Georgian lari', 2),
  ('GGP', 'Guernsey pound', 4),
  ('GHS', 'Ghanaian new cedi', 2),
  ('GIP', 'Gibraltar pound', 2),
  ('GMD', 'Gambian dalasi', 2),
  ('GNF', 'Guinean franc', 0),
  ('GTQ', 'Guatemalan quetzal', 2),
  ('GYD', 'Guyana dollar', 2),
  ('HKD', 'Hong Kong SAR dollar', 2),
  ('HNL', 'Honduran lempira', 2),
  ('HRK', 'Croatian kuna', 2),
  ('HTG', 'Haitian gourde', 2),
  ('HUF', 'Hungarian forint', 2),
  ('IDR', 'Indonesian rupiah', 2),
  ('ILS', 'Israeli new shekel', 2),
  ('IMP', 'Isle of Man pound', 4),
  ('INR', 'Indian rupee', 2),
  ('IQD', 'Iraqi dinar', 3),
  ('IRR', 'Iranian rial', 2),
  ('ISK', 'Icelandic krona', 0),
  ('JEP', 'Jersey pound', 4),
  ('JMD', 'Jamaican dollar', 2),
  ('JOD', 'Jordanian dinar', 3),
  ('JPY', 'Japanese yen', 0),
  ('KES', 'Kenyan shilling', 2),
  ('KGS', 'Kyrgyz som', 2),
  ('KHR', 'Cambodian riel', 2),
  ('KMF', 'Comoros franc', 0),
  ('KPW', 'North Korean won', 2),
  ('KRW', 'South Korean won', 0),
  ('KWD', 'Kuwaiti dinar', 3),
  ('KYD', 'Cayman Islands dollar', 2),
  ('KZT', 'Kazakh tenge', 2),
  ('LAK', 'Lao kip', 2),
  ('LBP', 'Lebanese pound', 2),
  ('LKR', 'Sri Lanka rupee', 2),
  ('LRD', 'Liberian dollar', 2),
  ('LSL', 'Lesotho loti', 2),
  ('LYD', 'Libyan dinar', 3),
  ('MAD', 'Moroccan dirham', 2),
  ('MDL', 'Moldovan leu', 2),
  ('MGA', 'Malagasy ariary', 2),
  ('MKD', 'Macedonian denar', 2),
  ('MMK', 'Myanmar kyat', 2),
  ('MNT', 'Mongolian tugrik', 2),
  ('MOP', 'Macao SAR pataca', 2),
  ('MRO', 'Mauritanian ouguiya', 2),
  ('MUR', 'Mauritius rupee', 2),
  ('MVR', 'Maldivian rufiyaa', 2),
  ('MWK', 'Malawi kwacha', 2),
  ('MXN', 'Mexican peso', 2),
  ('MYR', 'Malaysian ringgit', 2),
  ('MZN', 'Mozambique new metical', 2),
  ('NAD', 'Namibian dollar', 2),
  ('NGN', 'Nigerian naira', 2),
  ('NIO', 'Nicaraguan cordoba oro', 2),
  ('NOK', 'Norwegian krone', 2),
  ('NPR', 'Nepalese rupee', 2),
  ('NZD', 'New Zealand dollar', 2),
  ('OMR', 'Omani rial', 3),
  ('PAB', 'Panamanian balboa', 2),
  ('PEN', 'Peruvian nuevo sol', 2),
  ('PGK', 'Papua New Guinea kina', 2),
  ('PHP', 'Philippine peso', 2),
  ('PKR', 'Pakistani rupee', 2),
  ('PLN', 'Polish zloty', 2),
  ('PYG', 'Paraguayan guarani', 0),
  ('QAR', 'Qatari rial', 2),
  ('RON', 'Romanian new leu', 2),
  ('RSD', 'Serbian dinar', 2),
  ('RUB', 'Russian ruble', 2),
  ('RWF', 'Rwandan franc', 0),
  ('SAR', 'Saudi riyal', 2),
  ('SBD', 'Solomon Islands dollar', 2),
  ('SCR', 'Seychelles rupee', 2),
  ('SDG', 'Sudanese pound', 2),
  ('SEK', 'Swedish krona', 2),
  ('SGD', 'Singapore dollar', 2),
  ('SHP', 'Saint Helena pound', 2),
  ('SLL', 'Sierra Leone leone', 2),
  ('SOS', 'Somali shilling', 2),
  ('SPL', 'Seborgan luigino', 4),
  ('SRD', 'Suriname dollar', 2),
  ('STD', 'Sao Tome and Principe dobra', 2),
  ('SVC', 'El Salvador colon', 2),
  ('SYP', 'Syrian pound', 2),
  ('SZL', 'Swaziland lilangeni', 2),
  ('THB', 'Thai baht', 2),
  ('TJS', 'Tajik somoni', 2),
  ('TMT', 'Turkmen new manat', 2),
  ('TND', 'Tunisian dinar', 3),
  ('TOP', 'Tongan pa''anga', 2),
  ('TRY', 'Turkish lira', 2),
  ('TTD', 'Trinidad and Tobago dollar', 2),
  ('TVD', 'Tuvaluan dollar', 4),
  ('TWD', 'Taiwan New dollar', 2),
  ('TZS', 'Tanzanian shilling', 2),
  ('UAH', 'Ukrainian hryvnia', 2),
  ('UGX', 'Uganda new shilling', 0),
  ('USD', 'US dollar', 2),
  ('UYU', 'Uruguayan peso uruguayo', 2),
  ('UZS', 'Uzbekistani sum', 2),
  ('VEF', 'Venezuelan bolivar fuerte', 2),
  ('VND', 'Vietnamese dong', 0),
  ('VUV', 'Vanuatu vatu', 0),
  ('WST', 'Samoan tala', 2),
  ('XAF', 'CFA franc BEAC', 0),
  ('XCD', 'East Caribbean dollar', 2),
  ('XDR', 'IMF special drawing right', 4),
  ('XOF', 'CFA franc BCEAO', 0),
  ('XPF', 'CFP franc', 0),
  ('XTS', 'Reserved for testing purposes', 4),
  ('XXX', 'Assigned for transactions where no currency is involved', 4),
  ('YER', 'Yemeni rial', 2),
  ('ZAR', 'South African rand', 2),
  ('ZMW', 'Zambian kwacha', 2),
  ('ZWD', 'Zimbabwe dollar (initial)', 2);

CREATE TABLE `ledgerAccountType` (
  `ledgerAccountTypeId` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  `name` VARCHAR(50) NOT NULL,
  `description` VARCHAR(512) NULL,
  `isActive` TINYINT(1) NOT NULL DEFAULT 1,
  `createdDate` DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `isSettleable` TINYINT(1) NOT NULL DEFAULT 0,
  PRIMARY KEY (`ledgerAccountTypeId`),
  UNIQUE KEY `ledgeraccounttype_name_unique` (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO `ledgerAccountType` (`ledgerAccountTypeId`, `name`, `description`, `isSettleable`) VALUES
  (1, 'POSITION', 'Typical accounts from which a DFSP provisions transfers', 1),
  (2, 'SETTLEMENT', 'Reflects the individual DFSP Settlement Accounts as held at the Settlement Bank', 0),
  (3, 'HUB_RECONCILIATION', 'A single account for each currency with which the hub operates. The account is "held" by the Participant representing the hub in the switch', 0),
  (4, 'HUB_MULTILATERAL_SETTLEMENT', 'A single account for each currency with which the hub operates. The account is "held" by the Participant representing the hub in the switch', 0),
  (5, 'INTERCHANGE_FEE', NULL, 1),
  (6, 'INTERCHANGE_FEE_SETTLEMENT', NULL, 0);

CREATE TABLE `ledgerEntryType` (
  `ledgerEntryTypeId` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  `name` VARCHAR(50) NOT NULL,
  `description` VARCHAR(512) NULL,
  `isActive` TINYINT(1) NOT NULL DEFAULT 1,
  `createdDate` DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `ledgerAccountTypeId` INT UNSIGNED NULL,
  PRIMARY KEY (`ledgerEntryTypeId`),
  UNIQUE KEY `ledgerentrytype_name_unique` (`name`),
  KEY `ledgerentrytype_ledgeraccounttypeid_foreign` (`ledgerAccountTypeId`),
  CONSTRAINT `ledgerentrytype_ledgeraccounttypeid_foreign` FOREIGN KEY (`ledgerAccountTypeId`)
    REFERENCES `ledgerAccountType` (`ledgerAccountTypeId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO `ledgerEntryType` (`ledgerEntryTypeId`, `name`, `description`, `ledgerAccountTypeId`) VALUES
  (1, 'PRINCIPLE_VALUE', 'The principle amount to be settled between parties, derived on quotes between DFSPs', 1),
  (2, 'INTERCHANGE_FEE', 'Fees to be paid between DFSP', 5),
  (3, 'HUB_FEE', 'Fees to be paid from the DFSPs to the Hub Operator', NULL),
  (4, 'POSITION_DEPOSIT', 'Used when increasing Net Debit Cap', NULL),
  (5, 'POSITION_WITHDRAWAL', 'Used when decreasing Net Debit Cap', NULL),
  (6, 'SETTLEMENT_NET_RECIPIENT', 'Participant is settlement net recipient', NULL),
  (7, 'SETTLEMENT_NET_SENDER', 'Participant is settlement net sender', NULL),
  (8, 'SETTLEMENT_NET_ZERO', 'Participant is settlement net sender', NULL),
  (9, 'RECORD_FUNDS_IN', 'Settlement account funds in', NULL),
  (10, 'RECORD_FUNDS_OUT', 'Settlement account funds out', NULL);

CREATE TABLE `participantLimitType` (
  `participantLimitTypeId` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  `name` VARCHAR(50) NOT NULL,
  `description` VARCHAR(512) NULL,
  `isActive` TINYINT(1) NOT NULL DEFAULT 1,
  `createdDate` DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (`participantLimitTypeId`),
  UNIQUE KEY `participantlimittype_name_unique` (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO `participantLimitType` (`participantLimitTypeId`, `name`, `description`) VALUES
  (1, 'NET_DEBIT_CAP', NULL);

CREATE TABLE `transferParticipantRoleType` (
  `transferParticipantRoleTypeId` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  `name` VARCHAR(50) NOT NULL,
  `description` VARCHAR(512) NULL,
  `isActive` TINYINT(1) NOT NULL DEFAULT 1,
  `createdDate` DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (`transferParticipantRoleTypeId`),
  UNIQUE KEY `transferparticipantroletype_name_unique` (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO `transferParticipantRoleType` (`transferParticipantRoleTypeId`, `name`, `description`) VALUES
  (1, 'PAYER_DFSP', 'The participant is the Payer DFSP in this transfer and is sending the funds'),
  (2, 'PAYEE_DFSP', 'The participant is the Payee DFSP in this transfer and is receiving the funds'),
  (3, 'HUB', 'The participant is representing the Hub Operator'),
  (4, 'DFSP_SETTLEMENT', 'Indicates the settlement account'),
  (5, 'DFSP_POSITION', 'Indicates the position account'),
  (6, 'INITIATING_FSP', 'Identifier for the FSP who is requesting a currency conversion'),
  (7, 'COUNTER_PARTY_FSP', 'Identifier for the FXP who is performing the currency conversion');

-- `transferStateId` is what the ledger stores; `enumeration` is what FSPIOP exposes.
CREATE TABLE `transferState` (
  `transferStateId` VARCHAR(50) NOT NULL,
  `enumeration` VARCHAR(50) NOT NULL,
  `description` VARCHAR(512) NULL,
  `isActive` TINYINT(1) NOT NULL DEFAULT 1,
  `createdDate` DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (`transferStateId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO `transferState` (`transferStateId`, `enumeration`, `description`) VALUES
  ('RECEIVED_PREPARE', 'RECEIVED', 'The switch has received the transfer.'),
  ('RESERVED', 'RESERVED', 'The switch has reserved the transfer.'),
  ('RECEIVED_FULFIL', 'RESERVED', 'The switch has reserved the transfer, and has been assigned to a settlement window.'),
  ('RECEIVED_FULFIL_DEPENDENT', 'RESERVED', 'The switch has reserved the fxTransfer fulfilment.'),
  ('COMMITTED', 'COMMITTED', 'The switch has successfully performed the transfer.'),
  ('FAILED', 'ABORTED', 'Aborted the transfer due to failure to perform the transfer.'),
  ('RESERVED_TIMEOUT', 'RESERVED', 'Expiring the transfer and returning funds to payer fsp.'),
  ('RECEIVED_REJECT', 'RESERVED', 'The switch has received a transfer abort from payee fsp.'),
  ('ABORTED_REJECTED', 'ABORTED', 'The switch has aborted a transfer due to being RECEIVED_REJECT.'),
  ('RECEIVED_ERROR', 'RESERVED', 'The switch has received a transfer error callback'),
  ('ABORTED_ERROR', 'ABORTED', 'The switch has aborted a transfer due to being RECEIVED_ERROR'),
  ('EXPIRED_PREPARED', 'ABORTED', 'The switch has aborted the transfer due to being EXPIRED transfer from RECEIVED_PREPARE.'),
  ('EXPIRED_RESERVED', 'ABORTED', 'The switch has aborted the transfer due to being EXPIRED transfer from RESERVED.'),
  ('INVALID', 'ABORTED', 'The switch has aborted the transfer due to validation failure.'),
  ('SETTLED', 'SETTLED', 'The switch has settled the transfer.'),
  ('RESERVED_FORWARDED', 'RESERVED', 'The switch has forwarded the transfer to a proxy participant');

-- Endpoint types, in Mojaloop's seed order: ids 1-12 match Mojaloop (1-5 are also the legacy
-- numeric ids of the shared enum). Includes the third-party (PISP) TP_CB_URL_* types Mojaloop
-- seeds, so registering any endpoint Mojaloop accepts also works here.
CREATE TABLE `endpointType` (
  `endpointTypeId` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  `name` VARCHAR(50) NOT NULL,
  `description` VARCHAR(512) NULL,
  `isActive` TINYINT(1) NOT NULL DEFAULT 1,
  `createdDate` DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (`endpointTypeId`),
  UNIQUE KEY `endpointtype_name_unique` (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO `endpointType` (`endpointTypeId`, `name`, `description`) VALUES
  (1, 'ALARM_NOTIFICATION_URL', 'Participant callback URL to which alarm notifications can be sent'),
  (2, 'ALARM_NOTIFICATION_TOPIC', 'Kafka topic used to publish alarm notifications'),
  (3, 'FSPIOP_CALLBACK_URL_TRANSFER_POST', 'Participant callback URL to which transfer post can be sent'),
  (4, 'FSPIOP_CALLBACK_URL_TRANSFER_PUT', 'Participant callback URL to which transfer put can be sent'),
  (5, 'FSPIOP_CALLBACK_URL_TRANSFER_ERROR', 'Participant callback URL to which transfer error notifications can be sent'),
  (6, 'FSPIOP_CALLBACK_URL_FX_QUOTES', 'Participant callback URL to which FX quote requests can be sent'),
  (7, 'FSPIOP_CALLBACK_URL_FX_TRANSFER_POST', 'Participant callback URL to which FX transfer post can be sent'),
  (8, 'FSPIOP_CALLBACK_URL_FX_TRANSFER_PUT', 'Participant callback URL to which FX transfer put can be sent'),
  (9, 'FSPIOP_CALLBACK_URL_FX_TRANSFER_ERROR', 'Participant callback URL to which FX transfer error notifications can be sent'),
  (10, 'NET_DEBIT_CAP_THRESHOLD_BREACH_EMAIL', 'Participant/Hub operator email address to which the net debit cap breach e-mail notification can be sent'),
  (11, 'NET_DEBIT_CAP_ADJUSTMENT_EMAIL', 'Participant/Hub operator email address to which the net debit cap adjustment e-mail notification can be sent'),
  (12, 'SETTLEMENT_TRANSFER_POSITION_CHANGE_EMAIL', 'Participant/Hub operator email address to which the position change due to settlement transfer e-mail notification can be sent'),
  (13, 'FSPIOP_CALLBACK_URL_PARTICIPANT_PUT', 'Participant callback URL to which put participant information can be sent'),
  (14, 'FSPIOP_CALLBACK_URL_PARTICIPANT_SUB_ID_PUT', 'Participant callback URL to which put participant information can be sent, when subId is specified'),
  (15, 'FSPIOP_CALLBACK_URL_PARTICIPANT_PUT_ERROR', 'Participant callback URL to which put participant error information can be sent'),
  (16, 'FSPIOP_CALLBACK_URL_PARTICIPANT_SUB_ID_PUT_ERROR', 'Participant callback URL to which put participant error information can be sent, when subId is specified'),
  (17, 'FSPIOP_CALLBACK_URL_PARTICIPANT_DELETE', 'Participant callback URL to which delete participant information can be sent'),
  (18, 'FSPIOP_CALLBACK_URL_PARTICIPANT_SUB_ID_DELETE', 'Participant callback URL to which delete participant information can be sent, when subId is specified'),
  (19, 'FSPIOP_CALLBACK_URL_PARTICIPANT_BATCH_PUT', 'Participant callback URL to which put batch participant information can be sent'),
  (20, 'FSPIOP_CALLBACK_URL_PARTICIPANT_BATCH_PUT_ERROR', 'Participant callback URL to which put batch participant error information can be sent'),
  (21, 'FSPIOP_CALLBACK_URL_PARTIES_GET', 'Parties callback URL to which get parties information can be requested'),
  (22, 'FSPIOP_CALLBACK_URL_PARTIES_SUB_ID_GET', 'Parties callback URL to which get parties information can be requested'),
  (23, 'FSPIOP_CALLBACK_URL_PARTIES_PUT', 'Parties callback URL to which put parties information can be sent'),
  (24, 'FSPIOP_CALLBACK_URL_PARTIES_SUB_ID_PUT', 'Parties callback URL to which put parties information can be sent when SubId is specified'),
  (25, 'FSPIOP_CALLBACK_URL_PARTIES_PUT_ERROR', 'Parties callback URL to which put participant error information can be sent'),
  (26, 'FSPIOP_CALLBACK_URL_PARTIES_SUB_ID_PUT_ERROR', 'Parties callback URL to which put parties error information can be sent when SubId is specified'),
  (27, 'FSPIOP_CALLBACK_URL_QUOTES', 'Quotes callback URL to which put quotes requests can be sent'),
  (28, 'FSPIOP_CALLBACK_URL_BULK_TRANSFER_POST', 'Participant callback URL to which bulk transfer post can be sent'),
  (29, 'FSPIOP_CALLBACK_URL_BULK_TRANSFER_PUT', 'Participant callback URL to which bulk transfer put can be sent'),
  (30, 'FSPIOP_CALLBACK_URL_BULK_TRANSFER_ERROR', 'Participant callback URL to which bulk transfer error notifications can be sent'),
  (31, 'FSPIOP_CALLBACK_URL_AUTHORIZATIONS', 'Participant callback URL to which authorization requests can be sent'),
  (32, 'FSPIOP_CALLBACK_URL_TRX_REQ_SERVICE', 'Participant callback URL to which transaction requests can be sent'),
  (33, 'FSPIOP_CALLBACK_URL_BULK_QUOTES', 'Bulk Quotes callback URL to which put bulkQuotes requests can be sent'),
  (34, 'TP_CB_URL_TRANSACTION_REQUEST_GET', 'Participant callback URL where GET /thirdpartyRequests/transactions/{ID} can be sent'),
  (35, 'TP_CB_URL_TRANSACTION_REQUEST_POST', 'Participant callback URL where POST /thirdpartyRequests/transactions can be sent'),
  (36, 'TP_CB_URL_TRANSACTION_REQUEST_PUT', 'Participant callback URL where PUT /thirdpartyRequests/transactions/{ID} can be sent'),
  (37, 'TP_CB_URL_TRANSACTION_REQUEST_PUT_ERROR', 'Participant callback URL to which PUT /thirdpartyRequests/transactions/{ID}/error error information can be sent'),
  (38, 'TP_CB_URL_TRANSACTION_REQUEST_PATCH', 'Participant callback URL where PATCH /thirdpartyRequests/transactions/{ID} can be sent'),
  (39, 'TP_CB_URL_TRANSACTION_REQUEST_AUTH_POST', 'Participant callback URL where POST /thirdpartyRequests/transactions/{ID}/authorizations can be sent'),
  (40, 'TP_CB_URL_TRANSACTION_REQUEST_AUTH_PUT', 'Participant callback URL where PUT /thirdpartyRequests/transactions/{ID}/authorizations can be sent'),
  (41, 'TP_CB_URL_TRANSACTION_REQUEST_AUTH_PUT_ERROR', 'Participant callback URL where PUT /thirdpartyRequests/transactions/{ID}/authorizations/error error information can be sent'),
  (42, 'TP_CB_URL_TRANSACTION_REQUEST_VERIFY_POST', 'Participant callback URL where POST /thirdpartyRequests/verifications can be sent'),
  (43, 'TP_CB_URL_TRANSACTION_REQUEST_VERIFY_PUT', 'Participant callback URL where PUT /thirdpartyRequests/verifications/{ID} can be sent'),
  (44, 'TP_CB_URL_TRANSACTION_REQUEST_VERIFY_PUT_ERROR', 'Participant callback URL where PUT /thirdpartyRequests/verifications/{ID}/error can be sent'),
  (45, 'TP_CB_URL_CONSENT_REQUEST_POST', 'Participant callback URL where POST /consentRequests can be sent'),
  (46, 'TP_CB_URL_CONSENT_REQUEST_PUT', 'Participant callback URL where PUT /consentRequests/{ID} can be sent'),
  (47, 'TP_CB_URL_CONSENT_REQUEST_PUT_ERROR', 'Participant callback URL where PUT /consentRequests/{ID}/error error information can be sent'),
  (48, 'TP_CB_URL_CONSENT_REQUEST_PATCH', 'Participant callback URL where PATCH /consentRequests/{ID} can be sent'),
  (49, 'TP_CB_URL_CREATE_CREDENTIAL_POST', 'Participant callback URL where POST /consentRequests/{ID}/createCredential can be sent'),
  (50, 'TP_CB_URL_CONSENT_POST', 'Participant callback URL where POST /consents/ can be sent'),
  (51, 'TP_CB_URL_CONSENT_GET', 'Participant callback URL where GET /consents/{ID} can be sent'),
  (52, 'TP_CB_URL_CONSENT_PUT', 'Participant callback URL where PUT /consents/{ID} can be sent'),
  (53, 'TP_CB_URL_CONSENT_PATCH', 'Participant callback URL where PATCH /consents/{ID} can be sent'),
  (54, 'TP_CB_URL_CONSENT_PUT_ERROR', 'Participant callback URL where PUT /consents/{ID}/error error information can be sent'),
  (55, 'TP_CB_URL_CONSENT_GENERATE_CHALLENGE_POST', 'Participant callback URL where POST /consents/{ID}/generateChallenge can be sent'),
  (56, 'TP_CB_URL_CONSENT_GENERATE_CHALLENGE_PUT_ERROR', 'Participant callback URL where PUT /consents/{ID}/generateChallenge/error error information can be sent'),
  (57, 'TP_CB_URL_ACCOUNTS_GET', 'Accounts callback URL where GET /accounts/{ID} can be sent'),
  (58, 'TP_CB_URL_ACCOUNTS_PUT', 'Accounts callback URL where PUT /accounts/{ID} can be sent'),
  (59, 'TP_CB_URL_ACCOUNTS_PUT_ERROR', 'Accounts callback URL where PUT /accounts/{ID}/error error information can be sent'),
  (60, 'TP_CB_URL_SERVICES_GET', 'Participant callback URL where GET /services/{ServiceType} can be sent'),
  (61, 'TP_CB_URL_SERVICES_PUT', 'Participant callback URL where PUT /services/{ServiceType} can be sent'),
  (62, 'TP_CB_URL_SERVICES_PUT_ERROR', 'Participant callback URL where PUT /services/{ServiceType}/error can be sent');

CREATE TABLE `settlementWindowState` (
  `settlementWindowStateId` VARCHAR(50) NOT NULL,
  `enumeration` VARCHAR(50) NOT NULL,
  `description` VARCHAR(512) NULL,
  `isActive` TINYINT(1) NOT NULL DEFAULT 1,
  `createdDate` DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (`settlementWindowStateId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO `settlementWindowState` (`settlementWindowStateId`, `enumeration`, `description`) VALUES
  ('OPEN', 'OPEN', 'Current window into which Fulfilled transfers are being allocated. Only one window should be open at a time.'),
  ('CLOSED', 'CLOSED', 'Settlement Window is not accepting any additional transfers. All new transfers are being allocated to the OPEN Settlement Window.'),
  ('PENDING_SETTLEMENT', 'PENDING_SETTLEMENT', 'The net settlement report for this window has been taken, with the parameter set to indicate that settlement is to be processed.'),
  ('SETTLED', 'SETTLED', 'The Hub Operator/Settlement Bank has confirmed that all the participants that engaged in the settlement window have now settled their payments in accordance with the net settlement report.'),
  ('ABORTED', 'ABORTED', 'Window returned to this state when the settlement was not possible. This window may now be included in a future settlement.'),
  ('PROCESSING', 'PROCESSING', 'Intermediate state when closing a window.'),
  ('FAILED', 'FAILED', 'Used when close window processing failed and all retries have been exhausted.');

CREATE TABLE `settlementState` (
  `settlementStateId` VARCHAR(50) NOT NULL,
  `enumeration` VARCHAR(50) NOT NULL,
  `description` VARCHAR(512) NULL,
  `isActive` TINYINT(1) NOT NULL DEFAULT 1,
  `createdDate` DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (`settlementStateId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO `settlementState` (`settlementStateId`, `enumeration`, `description`) VALUES
  ('PENDING_SETTLEMENT', 'PENDING_SETTLEMENT', 'The net settlement report for this window has been taken, with the parameter set to indicate that settlement is to be processed.'),
  ('PS_TRANSFERS_RECORDED', 'PS_TRANSFERS_RECORDED', 'Record transfer entries against the Position Account and the Multi-lateral Net Settlement Account, these are the "multi-lateral net  settlement transfers" (MLNS transfers). An identifier might be provided to be past to the reference bank.'),
  ('PS_TRANSFERS_RESERVED', 'PS_TRANSFERS_RESERVED', 'All the debit entries for the MLNS transfers are reserved.'),
  ('PS_TRANSFERS_COMMITTED', 'PS_TRANSFERS_COMMITTED', 'All the credit entries for the MLNS transfers are committed. An identifier might be received and recorded from the Settlement bank to allow reconciliation.'),
  ('SETTLING', 'SETTLING', 'If all accounts are not yet SETTLED, the Status of the settlement is moved to SETTLING. Note: applies only on settlement level.'),
  ('SETTLED', 'SETTLED', 'When all outstanding accounts are SETTLED, the entire Settlement is moved to SETTLED.'),
  ('ABORTED', 'ABORTED', 'Final state when the settlement is not possible.');

CREATE TABLE `settlementGranularity` (
  `settlementGranularityId` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  `name` VARCHAR(50) NOT NULL,
  `description` VARCHAR(512) NULL,
  `isActive` TINYINT(1) NOT NULL DEFAULT 1,
  `createdDate` DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (`settlementGranularityId`),
  UNIQUE KEY `settlementgranularity_name_unique` (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO `settlementGranularity` (`settlementGranularityId`, `name`, `description`) VALUES
  (1, 'GROSS', NULL),
  (2, 'NET', NULL);

CREATE TABLE `settlementInterchange` (
  `settlementInterchangeId` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  `name` VARCHAR(50) NOT NULL,
  `description` VARCHAR(512) NULL,
  `isActive` TINYINT(1) NOT NULL DEFAULT 1,
  `createdDate` DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (`settlementInterchangeId`),
  UNIQUE KEY `settlementinterchange_name_unique` (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO `settlementInterchange` (`settlementInterchangeId`, `name`, `description`) VALUES
  (1, 'BILATERAL', NULL),
  (2, 'MULTILATERAL', NULL);

CREATE TABLE `settlementDelay` (
  `settlementDelayId` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  `name` VARCHAR(50) NOT NULL,
  `description` VARCHAR(512) NULL,
  `isActive` TINYINT(1) NOT NULL DEFAULT 1,
  `createdDate` DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (`settlementDelayId`),
  UNIQUE KEY `settlementdelay_name_unique` (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO `settlementDelay` (`settlementDelayId`, `name`, `description`) VALUES
  (1, 'IMMEDIATE', NULL),
  (2, 'DEFERRED', NULL);
