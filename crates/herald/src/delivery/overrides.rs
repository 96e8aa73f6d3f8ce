//! Which trigger `overrides` a provider call gets. The SDK generations send different shapes:
//! `@novu/node` and `novu` (Python) pass `overrides.<providerId>` and `overrides.<channel>` as the
//! user wrote them; `@novu/api` and `novu-py` can only send `overrides.providers.<providerId>` and
//! `overrides.steps.<stepId>.providers.<providerId>`. For one step and provider they are merged
//! (shallowly, key by key) in this order, later winning: the workflow step's own
//! `providerOverrides.<providerId>`, `overrides.<channel>`, `overrides.<providerId>`,
//! `overrides.providers.<providerId>`, `overrides.steps.<stepId>.providers.<providerId>`.

use herald_core::{ChannelType, ProviderId};
use serde_json::{Map, Value};

/// The overrides for `provider` on the step `step_id` of channel `channel`.
pub fn merged(
    step_defaults: &Map<String, Value>,
    overrides: &Map<String, Value>,
    step_id: &str,
    channel: ChannelType,
    provider: ProviderId,
) -> Map<String, Value> {
    let p = provider.as_str();
    let layers = [
        step_defaults.get(p),
        overrides.get(channel.as_str()),
        overrides.get(p),
        overrides.get("providers").and_then(|v| v.get(p)),
        overrides
            .get("steps")
            .and_then(|v| v.get(step_id))
            .and_then(|v| v.get("providers"))
            .and_then(|v| v.get(p)),
    ];
    let mut out = Map::new();
    for layer in layers.into_iter().flatten() {
        if let Value::Object(m) = layer {
            for (k, v) in m {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn later_shapes_win_key_by_key() {
        let overrides = obj(json!({
            "chat": {"a": "chat", "b": "chat", "c": "chat", "d": "chat"},
            "slack": {"b": "v1", "c": "v1", "d": "v1"},
            "providers": {"slack": {"c": "providers", "d": "providers"}},
            "steps": {"s1": {"providers": {"slack": {"d": "step"}}}},
        }));
        let m = merged(
            &obj(json!({"slack": {"a": "default", "z": 1}})),
            &overrides,
            "s1",
            ChannelType::Chat,
            ProviderId::Slack,
        );
        assert_eq!(
            Value::Object(m),
            json!({"a": "chat", "z": 1, "b": "v1", "c": "providers", "d": "step"})
        );
    }

    #[test]
    fn other_providers_steps_and_channels_are_ignored() {
        let overrides = obj(json!({
            "push": {"x": 1},
            "discord": {"x": 2},
            "providers": {"discord": {"x": 3}},
            "steps": {"other": {"providers": {"slack": {"x": 4}}}},
            "slack": "not an object",
        }));
        let m = merged(
            &Map::new(),
            &overrides,
            "s1",
            ChannelType::Chat,
            ProviderId::Slack,
        );
        assert!(m.is_empty(), "{m:?}");
    }
}
