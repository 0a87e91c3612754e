-- What was wrong with optional fields a lead was accepted without: [{field, value, reason}].
ALTER TABLE leads ADD COLUMN warnings TEXT NOT NULL DEFAULT '[]';
