-- Version 2: `detail` meant three things; a task's failure reason and a submit's error get
-- columns of their own. `detail` stays (still written) so that an older veo sharing the file
-- keeps working; readers prefer the new columns.
ALTER TABLE submits ADD COLUMN failure_reason TEXT;
ALTER TABLE submits ADD COLUMN submit_error TEXT;
UPDATE submits SET failure_reason = detail WHERE status = 'failed';
UPDATE submits SET submit_error = detail WHERE submit_state IN ('rejected', 'outcome_unknown')
