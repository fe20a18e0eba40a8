-- Who asked for each run: the API's authenticated principal (or drill:<id>), from the run's memo.
ALTER TABLE runbook_runs ADD COLUMN requested_by text NULL;
