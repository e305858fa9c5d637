DROP TABLE IF EXISTS transactionRequest;
