-- Routing settings. Rows from 0001 load with the defaults: an empty JSON object is the default
-- QueueRouting, an empty list no skills, tier and weight 1.

-- routing: serde JSON of engine::QueueRouting. busy_backoff_ms: NULL means the config's
-- [routing] busy_backoff.
ALTER TABLE queues ADD COLUMN routing TEXT NOT NULL DEFAULT '{}';
ALTER TABLE queues ADD COLUMN busy_backoff_ms BIGINT;

-- skills: serde JSON of a list of engine::SkillLevel, sorted by skill.
ALTER TABLE agents ADD COLUMN skills TEXT NOT NULL DEFAULT '[]';

-- ordinal: the agent's order of their queues (what 0001 called position). position: the
-- agent's place within the queue, 1-based.
ALTER TABLE agent_queues ADD COLUMN ordinal BIGINT NOT NULL DEFAULT 0;
ALTER TABLE agent_queues ADD COLUMN tier BIGINT NOT NULL DEFAULT 1;
ALTER TABLE agent_queues ADD COLUMN weight BIGINT NOT NULL DEFAULT 1;
UPDATE agent_queues SET ordinal = position, position = position + 1;

-- Why an agent was paused.
ALTER TABLE agent_state_changes ADD COLUMN reason TEXT;
