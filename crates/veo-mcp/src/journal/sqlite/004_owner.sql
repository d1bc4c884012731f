-- Version 4: which process wrote a submit (`<boot id>:<pid>:<start time>`), so a submit left
-- half-sent by a process that is gone can be judged at once.
ALTER TABLE submits ADD COLUMN owner TEXT
