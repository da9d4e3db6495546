-- Logged feedback (issue #17): where the worker stood in the list shown, the policy that produced
-- the list, and how likely that policy was to put the worker there. Empty for older events.
ALTER TABLE events ADD COLUMN position INTEGER;
ALTER TABLE events ADD COLUMN policy TEXT;
ALTER TABLE events ADD COLUMN propensity REAL;
