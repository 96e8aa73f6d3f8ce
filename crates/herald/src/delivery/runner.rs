//! One run of one job: from what the store read ([`JobContext`]) to what it records ([`JobRun`]).
//!
//! The first run plans: it renders the step for the subscriber, picks the subscriber's channels of
//! the step's type, checks each one's integration and target, and creates a message per channel
//! with a delivery per target (a chat channel, or each push device token). Later runs (retries)
//! re-send only the deliveries still pending, to the targets as they are stored *now*: a token
//! removed or moved to another subscriber since is not sent to. Every provider call is one
//! [`Attempt`]; the retry policy decides what a transient failure becomes. Nothing here touches
//! the database or the network directly, so the rules are unit-tested with a scripted sender.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::{self, StreamExt};
use herald_core::delivery::event::StepSnapshot;
use herald_core::delivery::job::{
    ChannelTarget, DeliveryStatus, DeliveryUpdate, DetailSource, DetailStatus, JobContext,
    JobOutcome, JobRun, MessageStatus, MessageUpdate, NewDelivery, NewExecutionDetail, NewMessage,
    TokenRemoval,
};
use herald_core::delivery::{Attempt, Outcome, RetryPolicy};
use herald_core::render::{self, Renderer};
use herald_core::{ChannelType, Integration, ObjectId, ProviderId, StepKind, Timestamp};
use herald_providers::{
    token_hint, webhook_hint, Message, Providers, PushBatch, PushToken, SendRequest, Target,
};
use serde_json::{json, Map, Value};

use super::overrides;
use super::prune::{Decision, PruneGuard, Sent};

/// Sends to a provider. [`Providers`] in production; a script in tests.
#[async_trait]
pub trait Sender: Send + Sync {
    /// One chat message, or one push to one token.
    async fn send(&self, req: &SendRequest<'_>) -> Attempt;
    /// One push message to several tokens of one integration: one attempt per token, in order
    /// (Expo takes them in batches; the others one request each).
    async fn send_push(&self, batch: &PushBatch<'_>) -> Vec<Attempt>;
    /// Expo receipts by receipt id (absent: not ready yet); `Err` when the call failed.
    async fn expo_receipts(
        &self,
        integration: &Map<String, Value>,
        ids: &[&str],
    ) -> Result<std::collections::HashMap<String, Attempt>, Attempt>;
}

#[async_trait]
impl Sender for Providers {
    async fn send(&self, req: &SendRequest<'_>) -> Attempt {
        Providers::send(self, req).await
    }

    async fn send_push(&self, batch: &PushBatch<'_>) -> Vec<Attempt> {
        Providers::send_push(self, batch).await
    }

    async fn expo_receipts(
        &self,
        integration: &Map<String, Value>,
        ids: &[&str],
    ) -> Result<std::collections::HashMap<String, Attempt>, Attempt> {
        Providers::expo_receipts(self, integration, ids).await
    }
}

/// A pending message's `errorText` starts with this.
const PENDING_NOTE: &str = "Not delivered yet, a retry is scheduled";

/// Provider calls of one job in flight at once (a push channel may hold up to 100 tokens).
const SENDS_PER_JOB: usize = 8;

/// Chat providers that post to the subscriber's `webhookUrl` (Rocket.Chat: its server's base
/// URL); the others address the subscriber through a fixed API host, by `channel` or phone.
fn chat_needs_webhook(p: ProviderId) -> bool {
    !matches!(
        p,
        ProviderId::WhatsAppBusiness
            | ProviderId::Telegram
            | ProviderId::Line
            | ProviderId::Sendblue
            | ProviderId::WebexMessaging
            | ProviderId::NovuSlack
            | ProviderId::NovuWebChat
    )
}

pub struct Runner {
    sender: Arc<dyn Sender>,
    renderer: Arc<Renderer>,
    policy: RetryPolicy,
    prune: Arc<PruneGuard>,
    /// How long after an Expo ticket its receipt is asked for (Expo suggests about 15 minutes).
    receipt_delay: Duration,
}

/// One delivery to attempt in this run.
struct Due<'a> {
    message: usize,
    /// Index into the message's deliveries (new messages) or the delivery's id (earlier ones).
    delivery: ObjectId,
    attempts_before: u32,
    hint: String,
    /// The delivery's target: the integration id (chat) or the token's hash (push).
    target: String,
    provider: ProviderId,
    integration: &'a Integration,
    channel: &'a ChannelTarget,
    token: Option<&'a str>,
}

/// A message this run writes or updates, with the final state of each of its deliveries.
struct Touched {
    id: ObjectId,
    provider: ProviderId,
    content: String,
    title: Option<String>,
    overrides: Map<String, Value>,
    /// Set for messages created by this run.
    new: Option<NewMessage>,
    /// `(delivery id, status)` of every delivery, as it stands after this run.
    states: Vec<(ObjectId, DeliveryStatus)>,
    last_error: Option<String>,
}

struct Recorder<'a> {
    ctx: &'a JobContext,
    run: JobRun,
    retry: bool,
}

impl Recorder<'_> {
    fn detail(
        &mut self,
        detail: impl Into<String>,
        status: DetailStatus,
        provider: Option<ProviderId>,
        message: Option<&ObjectId>,
        raw: Option<Value>,
    ) {
        self.run.details.push(NewExecutionDetail {
            id: ObjectId::new(),
            message_id: message.cloned(),
            provider_id: provider,
            detail: detail.into(),
            source: DetailSource::Internal,
            status,
            is_retry: self.retry,
            raw: raw.map(|r| r.to_string()),
            created_at: Timestamp::now(),
        });
    }

    fn finish(mut self, outcome: JobOutcome) -> JobRun {
        self.run.outcome = outcome;
        self.run
    }
}

impl Runner {
    pub fn new(
        sender: Arc<dyn Sender>,
        renderer: Arc<Renderer>,
        policy: RetryPolicy,
        prune: Arc<PruneGuard>,
    ) -> Self {
        Runner {
            sender,
            renderer,
            policy,
            prune,
            receipt_delay: Duration::from_secs(15 * 60),
        }
    }

    /// Asks for Expo receipts this long after the ticket (default 15 minutes).
    pub fn with_receipt_delay(mut self, delay: Duration) -> Self {
        self.receipt_delay = delay;
        self
    }

    /// The sender (for the receipt checks, which are not job runs).
    pub fn sender(&self) -> &Arc<dyn Sender> {
        &self.sender
    }

    pub fn prune_guard(&self) -> &Arc<PruneGuard> {
        &self.prune
    }

    /// Runs the job and returns what to record.
    pub async fn run(&self, ctx: &JobContext, owner: &str) -> JobRun {
        let mut rec = Recorder {
            ctx,
            run: JobRun {
                job_id: ctx.job.id.clone(),
                lease_owner: owner.to_string(),
                outcome: JobOutcome::Failed,
                provider_id: None,
                new_messages: Vec::new(),
                message_updates: Vec::new(),
                delivery_updates: Vec::new(),
                details: Vec::new(),
                removed_tokens: Vec::new(),
            },
            retry: !ctx.messages.is_empty(),
        };
        if ctx.event.canceled {
            return self.cancel(rec, "The event was canceled before this step was sent");
        }
        let Some(step) = ctx.event.workflow.steps.get(ctx.job.step_index) else {
            rec.detail(
                "Step not found in the workflow",
                DetailStatus::Failed,
                None,
                None,
                None,
            );
            return rec.finish(JobOutcome::Failed);
        };
        if ctx.subscriber.is_none() {
            rec.detail(
                format!(
                    "Subscriber {} was deleted before the message was sent",
                    ctx.job.subscriber_id
                ),
                DetailStatus::Failed,
                None,
                None,
                None,
            );
            return self.cancel(rec, "Subscriber deleted");
        }
        // A job whose worker keeps dying (its lease expiring) must not loop for ever.
        if ctx.job.runs > self.policy.max_attempts.saturating_add(3) {
            rec.detail(
                format!("Gave up after {} runs", ctx.job.runs),
                DetailStatus::Failed,
                None,
                None,
                None,
            );
            return self.give_up(rec);
        }
        let subscriber_json = render::subscriber_context(ctx.subscriber.as_ref().expect("checked"));
        let step_json = json!({"digest": false, "events": [], "total_count": 0});
        let payload = Value::Object(ctx.event.payload.clone());
        let mut touched: Vec<Touched> = Vec::new();
        let mut sends: Vec<Due<'_>> = Vec::new();
        let mut errors = 0usize;
        if ctx.messages.is_empty() {
            match self.plan(&mut rec, step, &subscriber_json, &step_json) {
                Some((t, s, e)) => {
                    touched = t;
                    sends = s;
                    errors = e;
                }
                None => return rec.finish(JobOutcome::Failed),
            }
        } else {
            self.resume(&mut rec, &mut touched, &mut sends);
        }
        rec.run.provider_id = touched
            .first()
            .map(|t| t.provider)
            .or_else(|| ctx.channels.first().map(|c| c.provider_id));

        // Send every due delivery, a few at a time.
        let message_of = |s: &Due<'_>| {
            let t = &touched[s.message];
            Message {
                title: t.title.as_deref(),
                content: &t.content,
                payload: &payload,
                overrides: &t.overrides,
                subscriber: &subscriber_json,
                step: &step_json,
            }
        };
        let messages: Vec<Message<'_>> = sends.iter().map(message_of).collect();
        let phone = ctx
            .subscriber
            .as_ref()
            .and_then(|s| s.profile.phone.value())
            .map(String::as_str);
        // Chat: one call per channel. Push: one call per message, for all its due tokens.
        let chat_calls: Vec<_> = sends
            .iter()
            .enumerate()
            .filter(|(_, s)| s.token.is_none())
            .map(|(i, s)| self.attempt(i, s, &messages[i], phone))
            .collect();
        let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
        for (i, s) in sends.iter().enumerate().filter(|(_, s)| s.token.is_some()) {
            match groups.iter_mut().find(|(m, _)| *m == s.message) {
                Some((_, members)) => members.push(i),
                None => groups.push((s.message, vec![i])),
            }
        }
        let push_calls: Vec<_> = groups
            .iter()
            .map(|(_, members)| self.attempt_push(members, &sends, &messages[members[0]]))
            .collect();
        let (chat, push) = futures::join!(
            stream::iter(chat_calls)
                .buffer_unordered(SENDS_PER_JOB)
                .collect::<Vec<_>>(),
            stream::iter(push_calls)
                .buffer_unordered(SENDS_PER_JOB)
                .collect::<Vec<_>>(),
        );
        let mut attempts: Vec<(usize, Attempt)> = chat;
        attempts.extend(push.into_iter().flatten());
        attempts.sort_by_key(|(i, _)| *i);

        let now = Timestamp::now();
        let mut next_delay: Option<Duration> = None;
        for (i, attempt) in attempts {
            let s = &sends[i];
            let count = s.attempts_before + 1;
            let (status, note) = match &attempt.outcome {
                Outcome::Delivered => (DeliveryStatus::Sent, None),
                Outcome::Retry { after } => {
                    match self
                        .policy
                        .next_delay(count, *after, &mut rand::thread_rng())
                    {
                        Some(d) => {
                            next_delay = Some(next_delay.map_or(d, |n| n.max(d)));
                            (DeliveryStatus::Pending, Some(d))
                        }
                        None => (DeliveryStatus::Failed, None),
                    }
                }
                _ => (DeliveryStatus::Failed, None),
            };
            let provider = Some(s.provider);
            let message_id = touched[s.message].id.clone();
            let retry = count > 1;
            let raw_target = json!({"target": s.hint, "attempt": count});
            if s.token.is_some() {
                self.prune_if_dead(&mut rec, s, &attempt, &message_id, retry);
            }
            match status {
                DeliveryStatus::Sent => {
                    let text = match ctx_kind(step) {
                        StepKind::Push => format!("Message sent: {}", s.provider.as_str()),
                        StepKind::Chat => "Message sent".to_string(),
                    };
                    let mut raw = raw_target.clone();
                    if let Some(id) = &attempt.provider_message_id {
                        raw["providerMessageId"] = json!(id);
                    }
                    push_detail(
                        &mut rec,
                        text,
                        DetailStatus::Success,
                        provider,
                        &message_id,
                        raw,
                        retry,
                    );
                }
                _ => {
                    let mut raw = raw_target.clone();
                    raw["outcome"] = json!(attempt.outcome.class());
                    if let Some(code) = attempt.http_status {
                        raw["httpStatus"] = json!(code);
                    }
                    if let Some(code) = &attempt.provider_code {
                        raw["providerCode"] = json!(code);
                    }
                    raw["detail"] = json!(attempt.detail);
                    push_detail(
                        &mut rec,
                        "Unexpected provider error",
                        DetailStatus::Failed,
                        provider,
                        &message_id,
                        raw,
                        retry,
                    );
                    if let Some(d) = note {
                        let at = Timestamp::from_millis(now.millis() + d.as_millis() as i64);
                        push_detail(
                            &mut rec,
                            "Retry scheduled",
                            DetailStatus::Pending,
                            provider,
                            &message_id,
                            json!({"target": s.hint, "attempt": count, "nextAttemptAt": at.to_iso()}),
                            retry,
                        );
                    } else if attempt.outcome.is_retry() {
                        push_detail(
                            &mut rec,
                            format!("Delivery failed after {count} attempts"),
                            DetailStatus::Failed,
                            provider,
                            &message_id,
                            json!({"target": s.hint}),
                            retry,
                        );
                    }
                    touched[s.message].last_error = Some(attempt.detail.clone());
                }
            }
            let update = DeliveryUpdate {
                id: s.delivery.clone(),
                status,
                attempts: count,
                outcome: Some(attempt.outcome.class().to_string()),
                http_status: attempt.http_status,
                provider_code: attempt.provider_code.clone(),
                provider_message_id: attempt.provider_message_id.clone(),
                detail: Some(attempt.detail.clone()),
                // An Expo ticket `ok` only means queued: its receipt says whether FCM/APNs took it.
                receipt_due_at: (s.provider == ProviderId::Expo
                    && status == DeliveryStatus::Sent
                    && attempt.provider_message_id.is_some())
                .then(|| {
                    Timestamp::from_millis(now.millis() + self.receipt_delay.as_millis() as i64)
                }),
            };
            let t = &mut touched[s.message];
            if let Some(state) = t.states.iter_mut().find(|(id, _)| *id == s.delivery) {
                state.1 = status;
            }
            match &mut t.new {
                Some(new) => {
                    if let Some(d) = new.deliveries.iter_mut().find(|d| d.state.id == s.delivery) {
                        d.state = update;
                    }
                }
                None => rec.run.delivery_updates.push(update),
            }
        }

        // Message statuses and the job's outcome follow from every delivery's final state.
        let kind = ctx_kind(step);
        let mut any_pending = false;
        let mut any_sent = false;
        let mut any_failed = errors > 0;
        for t in touched {
            let (status, error_id, error_text) = message_status(kind, &t);
            any_pending |= t.states.iter().any(|s| s.1 == DeliveryStatus::Pending);
            any_sent |= t.states.iter().any(|s| s.1 == DeliveryStatus::Sent);
            any_failed |= status == MessageStatus::Error;
            match t.new {
                Some(mut new) => {
                    if !new.deliveries.is_empty() {
                        new.status = status;
                        new.error_id = error_id;
                        new.error_text = error_text;
                    }
                    rec.run.new_messages.push(new);
                }
                None => rec.run.message_updates.push(MessageUpdate {
                    id: t.id,
                    status,
                    error_id,
                    error_text,
                }),
            }
        }
        if any_pending {
            let delay = next_delay.unwrap_or(self.policy.initial_delay);
            let at = Timestamp::from_millis(now.millis() + delay.as_millis() as i64);
            return rec.finish(JobOutcome::RetryAt(at));
        }
        if any_failed {
            let text = match kind {
                StepKind::Push => {
                    "There was one or more errors when trying to execute the notification"
                }
                StepKind::Chat if !any_sent => "All chat channels failed to send the message",
                StepKind::Chat => {
                    "There was one or more errors when trying to execute the notification"
                }
            };
            rec.detail(text, DetailStatus::Failed, None, None, None);
        }
        rec.finish(if any_sent {
            JobOutcome::Completed
        } else {
            JobOutcome::Failed
        })
    }

    /// Counts a push attempt in the integration's window and, when the provider called the token
    /// dead, removes it from the subscriber (or keeps it, saying why: see `prune`).
    fn prune_if_dead(
        &self,
        rec: &mut Recorder<'_>,
        s: &Due<'_>,
        attempt: &Attempt,
        message_id: &ObjectId,
        retry: bool,
    ) {
        let code = attempt.provider_code.as_deref().unwrap_or_default();
        let shaped = Providers::is_credential_shaped(s.provider, code);
        let sent = match attempt.outcome {
            Outcome::Delivered => Sent::Delivered,
            Outcome::TokenDead if shaped => Sent::CredentialShaped,
            _ => Sent::Other,
        };
        self.prune.record(&s.integration.id, sent);
        if attempt.outcome != Outcome::TokenDead {
            return;
        }
        let raw = json!({
            "providerId": s.provider.as_str(),
            "code": code,
            "token": s.hint,
            "at": Timestamp::now().to_iso(),
        });
        let provider = Some(s.provider);
        match self.prune.decide(&s.integration.id, shaped) {
            Decision::Remove => {
                rec.run.removed_tokens.push(TokenRemoval {
                    integration_id: s.integration.id.clone(),
                    token_hash: s.target.clone(),
                });
                let text = format!(
                    "Device token removed: {}",
                    if code.is_empty() { "dead token" } else { code }
                );
                push_detail(
                    rec,
                    text,
                    DetailStatus::Warning,
                    provider,
                    message_id,
                    raw,
                    retry,
                );
            }
            Decision::Keep(why) => {
                if self.prune.tripped(&s.integration.id).is_some() {
                    tracing::warn!(
                        integration_id = %s.integration.id,
                        provider = s.provider.as_str(),
                        code,
                        "credential-shaped failures: token removal paused for this integration, its credentials look invalid"
                    );
                }
                push_detail(
                    rec,
                    format!("Device token kept: {why}"),
                    DetailStatus::Warning,
                    provider,
                    message_id,
                    raw,
                    retry,
                );
            }
        }
    }

    /// One chat call for delivery `i`.
    async fn attempt(
        &self,
        i: usize,
        s: &Due<'_>,
        message: &Message<'_>,
        phone: Option<&str>,
    ) -> (usize, Attempt) {
        let req = SendRequest {
            provider: s.provider,
            integration: &s.integration.credentials,
            target: Target::Chat {
                credentials: &s.channel.credentials,
                phone,
            },
            message,
            idempotency_key: s.delivery.as_str(),
        };
        (i, self.sender.send(&req).await)
    }

    /// One push call for the deliveries `members` (all of one message, so one provider and
    /// integration), each token keyed by its delivery's id.
    async fn attempt_push(
        &self,
        members: &[usize],
        sends: &[Due<'_>],
        message: &Message<'_>,
    ) -> Vec<(usize, Attempt)> {
        let first = &sends[members[0]];
        let tokens: Vec<PushToken<'_>> = members
            .iter()
            .map(|&i| PushToken {
                token: sends[i].token.unwrap_or_default(),
                idempotency_key: sends[i].delivery.as_str(),
            })
            .collect();
        let batch = PushBatch {
            provider: first.provider,
            integration: &first.integration.credentials,
            tokens: &tokens,
            message,
        };
        let attempts = self.sender.send_push(&batch).await;
        members.iter().copied().zip(attempts).collect()
    }

    /// The first run: render, choose channels and targets. `None` if the step cannot run at all
    /// (the details say why). Returns the messages, the sends and how many channels failed.
    fn plan<'a>(
        &self,
        rec: &mut Recorder<'a>,
        step: &StepSnapshot,
        subscriber: &Value,
        step_json: &Value,
    ) -> Option<(Vec<Touched>, Vec<Due<'a>>, usize)> {
        let ctx = rec.ctx;
        let kind = step.step_kind();
        let render_ctx = render::context(
            ctx.event.workflow.origin.into(),
            &ctx.event.payload,
            subscriber,
            ctx.event.actor.as_ref(),
            ctx.event.tenant.as_ref(),
            step_json,
        );
        let rendered = self
            .renderer
            .render(&step.content, &render_ctx)
            .and_then(|content| {
                let title = match &step.title {
                    Some(t) if kind == StepKind::Push => {
                        Some(self.renderer.render(t, &render_ctx)?)
                    }
                    _ => None,
                };
                Ok((content, title))
            });
        let (content, title) = match rendered {
            Ok(r) => r,
            Err(e) => {
                rec.detail(
                    "Message content could not be generated",
                    DetailStatus::Failed,
                    None,
                    None,
                    Some(json!({"error": e.to_string()})),
                );
                return None;
            }
        };
        if ctx.channels.is_empty() {
            rec.detail(
                "Subscriber does not have a configured channel",
                DetailStatus::Failed,
                None,
                None,
                None,
            );
            if kind == StepKind::Push {
                rec.detail(
                    "There was one or more errors when trying to execute the notification",
                    DetailStatus::Failed,
                    None,
                    None,
                    None,
                );
            }
            return None;
        }
        let mut touched = Vec::new();
        let mut sends = Vec::new();
        let mut errors = 0;
        for channel in &ctx.channels {
            let provider = channel.provider_id;
            let Some(integration) = active_integration(ctx, channel) else {
                rec.detail(
                    "Subscriber does not have an active integration",
                    DetailStatus::Failed,
                    Some(provider),
                    None,
                    Some(json!({"reason": format!(
                        "Integration with integrationId: {} is either deleted or not active",
                        channel.integration_id
                    )})),
                );
                errors += 1;
                continue;
            };
            rec.detail(
                "Integration instance selected",
                DetailStatus::Pending,
                Some(provider),
                None,
                Some(json!({
                    "providerId": provider.as_str(),
                    "identifier": integration.identifier,
                    "name": integration.name,
                    "_environmentId": integration.environment_id,
                    "_id": integration.id,
                })),
            );
            let merged = overrides::merged(
                &step.provider_overrides,
                &ctx.event.overrides,
                &step.step_id,
                kind.channel(),
                provider,
            );
            let id = ObjectId::new();
            let mut message = NewMessage {
                id: id.clone(),
                channel: kind.channel(),
                provider_id: provider,
                integration_id: channel.integration_id.clone(),
                content: content.clone(),
                title: title.clone(),
                webhook_hint: channel.credentials.webhook_url.as_deref().map(webhook_hint),
                device_token_hints: channel
                    .tokens
                    .iter()
                    .map(|t| token_hint(&t.token))
                    .collect(),
                overrides: merged.clone(),
                status: MessageStatus::Warning,
                error_id: None,
                error_text: None,
                deliveries: Vec::new(),
            };
            // (target, hint, token): a chat channel is named by its integration, a device token
            // by its hash.
            let targets: Vec<(String, String, Option<&str>)> = match kind {
                StepKind::Chat => {
                    if chat_needs_webhook(provider) && channel.credentials.webhook_url.is_none() {
                        message.error_id = Some("no_subscriber_chat_channel_id".into());
                        message.error_text =
                            Some("Subscriber does not have active chat channel id".into());
                        rec.detail(
                            "Message created",
                            DetailStatus::Pending,
                            Some(provider),
                            Some(&id),
                            None,
                        );
                        rec.detail(
                            "Webhook URL for the chat channel is missing",
                            DetailStatus::Failed,
                            Some(provider),
                            Some(&id),
                            Some(json!({"reason": format!(
                                "webhookUrl for integrationIdentifier: {} is missing",
                                integration.identifier
                            )})),
                        );
                        errors += 1;
                        rec.run.new_messages.push(message);
                        continue;
                    }
                    let hint = message
                        .webhook_hint
                        .clone()
                        .unwrap_or_else(|| provider.as_str().to_string());
                    vec![(channel.integration_id.to_string(), hint, None)]
                }
                StepKind::Push => {
                    if channel.tokens.is_empty() {
                        rec.detail(
                            "Subscriber credentials is missing the tokens for sending a push notification message",
                            DetailStatus::Failed,
                            Some(provider),
                            None,
                            None,
                        );
                        errors += 1;
                        continue;
                    }
                    channel
                        .tokens
                        .iter()
                        .map(|t| (t.hash.clone(), token_hint(&t.token), Some(t.token.as_str())))
                        .collect()
                }
            };
            let created = match kind {
                StepKind::Push => format!("Message created: {}", provider.as_str()),
                StepKind::Chat => "Message created".to_string(),
            };
            rec.detail(
                created,
                DetailStatus::Pending,
                Some(provider),
                Some(&id),
                None,
            );
            let index = touched.len();
            let mut states = Vec::new();
            for (target, hint, token) in targets {
                let delivery = ObjectId::new();
                message.deliveries.push(NewDelivery {
                    target: target.clone(),
                    target_hint: hint.clone(),
                    state: DeliveryUpdate {
                        id: delivery.clone(),
                        status: DeliveryStatus::Pending,
                        attempts: 0,
                        outcome: None,
                        http_status: None,
                        provider_code: None,
                        provider_message_id: None,
                        detail: None,
                        receipt_due_at: None,
                    },
                });
                states.push((delivery.clone(), DeliveryStatus::Pending));
                sends.push(Due {
                    message: index,
                    delivery,
                    attempts_before: 0,
                    hint,
                    target,
                    provider,
                    integration,
                    channel,
                    token,
                });
            }
            touched.push(Touched {
                id,
                provider,
                content: content.clone(),
                title: title.clone(),
                overrides: merged,
                new: Some(message),
                states,
                last_error: None,
            });
        }
        Some((touched, sends, errors))
    }

    /// A retry: the pending deliveries of earlier messages, to their targets as stored now.
    fn resume<'a>(
        &self,
        rec: &mut Recorder<'a>,
        touched: &mut Vec<Touched>,
        sends: &mut Vec<Due<'a>>,
    ) {
        let ctx = rec.ctx;
        for m in &ctx.messages {
            let index = touched.len();
            let mut t = Touched {
                id: m.id.clone(),
                provider: m.provider_id,
                content: m.content.clone(),
                title: m.title.clone(),
                overrides: m.overrides.clone(),
                new: None,
                states: m
                    .deliveries
                    .iter()
                    .map(|d| (d.id.clone(), d.status))
                    .collect(),
                // What an earlier run recorded, without the note this module adds while pending.
                last_error: m
                    .error_text
                    .as_deref()
                    .map(|e| {
                        e.strip_prefix(PENDING_NOTE)
                            .map(|rest| rest.trim_start_matches(": "))
                            .unwrap_or(e)
                            .to_string()
                    })
                    .filter(|e| !e.is_empty()),
            };
            let channel = ctx
                .channels
                .iter()
                .find(|c| c.integration_id == m.integration_id && c.provider_id == m.provider_id);
            let integration = channel.and_then(|c| active_integration(ctx, c));
            let mut touched_any = false;
            for d in m
                .deliveries
                .iter()
                .filter(|d| d.status == DeliveryStatus::Pending)
            {
                touched_any = true;
                let token = match (channel, m.provider_id.channel()) {
                    (Some(c), ChannelType::Push) => c
                        .tokens
                        .iter()
                        .find(|t| t.hash == d.target)
                        .map(|t| Some(t.token.as_str())),
                    (Some(_), _) => Some(None),
                    (None, _) => None,
                };
                let (Some(channel), Some(token)) = (channel, token) else {
                    let what = if m.provider_id.channel() == ChannelType::Push {
                        "The device token was removed before the message could be sent"
                    } else {
                        "The chat channel was removed before the message could be sent"
                    };
                    rec.detail(
                        what,
                        DetailStatus::Warning,
                        Some(m.provider_id),
                        Some(&m.id),
                        None,
                    );
                    set_state(
                        &mut t,
                        rec,
                        d.id.clone(),
                        d.attempts,
                        DeliveryStatus::Canceled,
                        what,
                    );
                    continue;
                };
                let Some(integration) = integration else {
                    let what = "Subscriber does not have an active integration";
                    rec.detail(
                        what,
                        DetailStatus::Failed,
                        Some(m.provider_id),
                        Some(&m.id),
                        Some(json!({"reason": format!(
                            "Integration with integrationId: {} is either deleted or not active",
                            m.integration_id
                        )})),
                    );
                    t.last_error = Some(what.to_string());
                    set_state(
                        &mut t,
                        rec,
                        d.id.clone(),
                        d.attempts,
                        DeliveryStatus::Failed,
                        what,
                    );
                    continue;
                };
                let hint = match token {
                    Some(tok) => token_hint(tok),
                    None => channel
                        .credentials
                        .webhook_url
                        .as_deref()
                        .map(webhook_hint)
                        .unwrap_or_default(),
                };
                sends.push(Due {
                    message: index,
                    delivery: d.id.clone(),
                    attempts_before: d.attempts,
                    hint,
                    target: d.target.clone(),
                    provider: m.provider_id,
                    integration,
                    channel,
                    token,
                });
            }
            if touched_any {
                touched.push(t);
            }
        }
    }

    fn cancel(&self, mut rec: Recorder<'_>, why: &str) -> JobRun {
        for m in &rec.ctx.messages {
            for d in m
                .deliveries
                .iter()
                .filter(|d| d.status == DeliveryStatus::Pending)
            {
                rec.run.delivery_updates.push(closed(
                    d.id.clone(),
                    d.attempts,
                    DeliveryStatus::Canceled,
                    why,
                ));
            }
        }
        rec.finish(JobOutcome::Canceled)
    }

    fn give_up(&self, mut rec: Recorder<'_>) -> JobRun {
        for m in &rec.ctx.messages {
            let mut any = false;
            for d in m
                .deliveries
                .iter()
                .filter(|d| d.status == DeliveryStatus::Pending)
            {
                any = true;
                rec.run.delivery_updates.push(closed(
                    d.id.clone(),
                    d.attempts,
                    DeliveryStatus::Failed,
                    "gave up",
                ));
            }
            if any {
                rec.run.message_updates.push(MessageUpdate {
                    id: m.id.clone(),
                    status: MessageStatus::Error,
                    error_id: Some(error_id(m.provider_id.channel()).into()),
                    error_text: Some("Delivery gave up: the job kept failing to run".into()),
                });
            }
        }
        rec.finish(JobOutcome::Failed)
    }
}

fn ctx_kind(step: &StepSnapshot) -> StepKind {
    step.step_kind()
}

fn push_detail(
    rec: &mut Recorder<'_>,
    text: impl Into<String>,
    status: DetailStatus,
    provider: Option<ProviderId>,
    message: &ObjectId,
    raw: Value,
    retry: bool,
) {
    let was = rec.retry;
    rec.retry = retry;
    rec.detail(text, status, provider, Some(message), Some(raw));
    rec.retry = was;
}

/// A delivery that ends without an attempt in this run.
fn closed(id: ObjectId, attempts: u32, status: DeliveryStatus, why: &str) -> DeliveryUpdate {
    DeliveryUpdate {
        id,
        status,
        attempts,
        outcome: None,
        http_status: None,
        provider_code: None,
        provider_message_id: None,
        detail: Some(why.to_string()),
        receipt_due_at: None,
    }
}

fn set_state(
    t: &mut Touched,
    rec: &mut Recorder<'_>,
    id: ObjectId,
    attempts: u32,
    status: DeliveryStatus,
    why: &str,
) {
    if let Some(s) = t.states.iter_mut().find(|s| s.0 == id) {
        s.1 = status;
    }
    rec.run
        .delivery_updates
        .push(closed(id, attempts, status, why));
}

/// The channel's integration, if it still exists, is active and is of the channel's provider.
fn active_integration<'a>(ctx: &'a JobContext, channel: &ChannelTarget) -> Option<&'a Integration> {
    ctx.integrations.iter().find(|i| {
        i.id == channel.integration_id && i.active && i.provider_id == channel.provider_id
    })
}

fn error_id(channel: ChannelType) -> &'static str {
    match channel {
        ChannelType::Push => "unexpected_push_error",
        _ => "unexpected_chat_error",
    }
}

/// A message's status from its deliveries: `sent` once every delivery is sent (or all that were
/// not canceled are), `error` when one failed for good and none is pending, `warning` while one
/// is pending (a retry is scheduled).
fn message_status(kind: StepKind, t: &Touched) -> (MessageStatus, Option<String>, Option<String>) {
    let pending = t.states.iter().any(|s| s.1 == DeliveryStatus::Pending);
    let failed = t.states.iter().any(|s| s.1 == DeliveryStatus::Failed);
    let sent = t.states.iter().any(|s| s.1 == DeliveryStatus::Sent);
    if pending {
        return (
            MessageStatus::Warning,
            None,
            Some(match &t.last_error {
                Some(e) => format!("{PENDING_NOTE}: {e}"),
                None => PENDING_NOTE.to_string(),
            }),
        );
    }
    if failed {
        return (
            MessageStatus::Error,
            Some(error_id(kind.channel()).to_string()),
            t.last_error
                .clone()
                .or_else(|| Some("Delivery failed".to_string())),
        );
    }
    if sent {
        return (MessageStatus::Sent, None, None);
    }
    (
        MessageStatus::Warning,
        None,
        Some("Canceled before it was sent".to_string()),
    )
}

#[cfg(test)]
mod tests {
    //! The runner's rules with a scripted sender: what a first run plans, how answers become
    //! delivery states, message statuses and the job's outcome, and what a retry re-sends.

    use std::collections::VecDeque;
    use std::sync::Mutex;

    use herald_core::delivery::event::{EventInfo, SnapshotOrigin, StepSnapshot, WorkflowSnapshot};
    use herald_core::delivery::job::{DeliveryState, JobInfo, MessageState, TokenTarget};
    use herald_core::{ChannelCredentials, ChannelType, Profile, Subscriber};

    use super::*;

    /// Answers each call with the next scripted outcome (`Delivered` when the script is empty)
    /// and records which target it was for.
    #[derive(Default)]
    struct Script {
        outcomes: Mutex<VecDeque<Outcome>>,
        calls: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl Sender for Script {
        async fn send(&self, req: &SendRequest<'_>) -> Attempt {
            let target = match &req.target {
                Target::Push { token } => token.to_string(),
                Target::Chat { credentials, .. } => {
                    credentials.webhook_url.clone().unwrap_or_default()
                }
            };
            self.calls.lock().unwrap().push(target);
            let outcome = self
                .outcomes
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or(Outcome::Delivered);
            Attempt::new(outcome, "scripted")
        }

        async fn expo_receipts(
            &self,
            _: &Map<String, Value>,
            _: &[&str],
        ) -> Result<std::collections::HashMap<String, Attempt>, Attempt> {
            Err(Attempt::new(
                Outcome::Retry { after: None },
                "no receipts in this script",
            ))
        }

        async fn send_push(&self, batch: &PushBatch<'_>) -> Vec<Attempt> {
            let mut out = Vec::new();
            for t in batch.tokens {
                let req = SendRequest {
                    provider: batch.provider,
                    integration: batch.integration,
                    target: Target::Push { token: t.token },
                    message: batch.message,
                    idempotency_key: t.idempotency_key,
                };
                out.push(self.send(&req).await);
            }
            out
        }
    }

    fn runner(script: Arc<Script>, max_attempts: u32) -> Runner {
        Runner::new(
            script,
            Arc::new(Renderer::new()),
            RetryPolicy {
                initial_delay: Duration::from_millis(1000),
                max_delay: Duration::from_secs(60),
                max_attempts,
            },
            Arc::new(PruneGuard::new(true)),
        )
    }

    fn integration(provider: ProviderId, active: bool) -> Integration {
        Integration {
            id: ObjectId::new(),
            environment_id: ObjectId::new(),
            organization_id: ObjectId::new(),
            provider_id: provider,
            channel: provider.channel(),
            name: provider.display_name().into(),
            identifier: provider.as_str().into(),
            credentials: Map::new(),
            active,
            primary: false,
            priority: 0,
            conditions: Vec::new(),
            deleted: false,
            deleted_at: None,
            created_at: Timestamp::now(),
            updated_at: Timestamp::now(),
        }
    }

    fn context(
        kind: &str,
        channels: Vec<ChannelTarget>,
        integrations: Vec<Integration>,
    ) -> JobContext {
        let now = Timestamp::now();
        JobContext {
            job: JobInfo {
                id: ObjectId::new(),
                environment_id: ObjectId::new(),
                organization_id: ObjectId::new(),
                notification_id: ObjectId::new(),
                subscriber_internal_id: ObjectId::new(),
                subscriber_id: "ada".into(),
                step_index: 0,
                runs: 1,
            },
            event: EventInfo {
                id: ObjectId::new(),
                environment_id: ObjectId::new(),
                organization_id: ObjectId::new(),
                transaction_id: "tx".into(),
                workflow: WorkflowSnapshot {
                    id: ObjectId::new(),
                    identifier: "wf".into(),
                    name: "wf".into(),
                    origin: SnapshotOrigin::V2,
                    critical: false,
                    steps: vec![StepSnapshot {
                        id: ObjectId::new(),
                        step_id: "s".into(),
                        name: "s".into(),
                        kind: kind.into(),
                        content: "hello {{subscriber.subscriberId}}".into(),
                        title: Some("t".into()),
                        provider_overrides: Map::new(),
                    }],
                },
                payload: Map::new(),
                overrides: Map::new(),
                actor: None,
                tenant: None,
                canceled: false,
                created_at: now,
            },
            subscriber: Some(Subscriber {
                id: ObjectId::new(),
                organization_id: ObjectId::new(),
                environment_id: ObjectId::new(),
                subscriber_id: "ada".into(),
                profile: Profile::default(),
                channels: Vec::new(),
                is_online: None,
                last_online_at: None,
                created_at: now,
                updated_at: now,
                version: Some(0),
            }),
            channels,
            integrations,
            messages: Vec::new(),
        }
    }

    fn push_channel(i: &Integration, tokens: &[&str]) -> ChannelTarget {
        ChannelTarget {
            provider_id: i.provider_id,
            integration_id: i.id.clone(),
            credentials: ChannelCredentials::default(),
            tokens: tokens
                .iter()
                .map(|t| TokenTarget {
                    hash: format!("hash-{t}"),
                    token: t.to_string(),
                })
                .collect(),
        }
    }

    fn details(run: &JobRun) -> Vec<&str> {
        run.details.iter().map(|d| d.detail.as_str()).collect()
    }

    #[tokio::test]
    async fn a_first_run_renders_and_sends_every_token_of_every_push_channel() {
        let script = Arc::new(Script::default());
        let i = integration(ProviderId::PushWebhook, true);
        let ctx = context("push", vec![push_channel(&i, &["a", "b"])], vec![i]);
        let run = runner(script.clone(), 3).run(&ctx, "w").await;
        assert_eq!(run.outcome, JobOutcome::Completed);
        let mut calls = script.calls.lock().unwrap().clone();
        calls.sort();
        assert_eq!(calls, ["a", "b"]);
        let m = &run.new_messages[0];
        assert_eq!(
            (m.content.as_str(), m.title.as_deref()),
            ("hello ada", Some("t"))
        );
        assert_eq!(m.status, MessageStatus::Sent);
        assert_eq!(m.deliveries.len(), 2);
        assert!(m
            .deliveries
            .iter()
            .all(|d| d.state.status == DeliveryStatus::Sent));
        assert_eq!(m.deliveries[0].target, "hash-a");
        assert!(!m.deliveries[0].target_hint.contains("hash"));
        assert_eq!(run.provider_id, Some(ProviderId::PushWebhook));
        assert_eq!(
            details(&run),
            [
                "Integration instance selected",
                "Message created: push-webhook",
                "Message sent: push-webhook",
                "Message sent: push-webhook",
            ]
        );
    }

    #[tokio::test]
    async fn a_transient_failure_keeps_the_delivery_pending_and_reschedules_the_job() {
        let script = Arc::new(Script::default());
        script.outcomes.lock().unwrap().extend([
            Outcome::Delivered,
            Outcome::Retry {
                after: Some(Duration::from_secs(30)),
            },
        ]);
        let i = integration(ProviderId::PushWebhook, true);
        let ctx = context("push", vec![push_channel(&i, &["a", "b"])], vec![i]);
        let before = Timestamp::now().millis();
        let run = runner(script, 3).run(&ctx, "w").await;
        let JobOutcome::RetryAt(at) = run.outcome else {
            panic!("expected a retry, got {:?}", run.outcome);
        };
        assert!(
            at.millis() >= before + 30_000,
            "Retry-After wins over the policy's delay"
        );
        let m = &run.new_messages[0];
        assert_eq!(m.status, MessageStatus::Warning);
        let statuses: Vec<DeliveryStatus> = m.deliveries.iter().map(|d| d.state.status).collect();
        assert_eq!(statuses, [DeliveryStatus::Sent, DeliveryStatus::Pending]);
        assert!(details(&run).contains(&"Retry scheduled"));
    }

    #[tokio::test]
    async fn a_retry_resends_only_pending_deliveries_to_tokens_still_registered() {
        let script = Arc::new(Script::default());
        let i = integration(ProviderId::PushWebhook, true);
        // The channel now holds `b` and `c`; `a` was sent, `b` and `gone` are pending.
        let mut ctx = context("push", vec![push_channel(&i, &["b", "c"])], vec![i.clone()]);
        let state = |id: &str, target: &str, status| DeliveryState {
            id: ObjectId::from_stored(id.into()),
            target: target.into(),
            status,
            attempts: 1,
        };
        ctx.messages = vec![MessageState {
            id: ObjectId::new(),
            provider_id: i.provider_id,
            integration_id: i.id.clone(),
            content: "rendered earlier".into(),
            title: None,
            overrides: Map::new(),
            error_text: Some("Not delivered yet, a retry is scheduled: busy".into()),
            deliveries: vec![
                state("d1", "hash-a", DeliveryStatus::Sent),
                state("d2", "hash-b", DeliveryStatus::Pending),
                state("d3", "hash-gone", DeliveryStatus::Pending),
            ],
        }];
        let run = runner(script.clone(), 3).run(&ctx, "w").await;
        assert_eq!(*script.calls.lock().unwrap(), ["b"]);
        assert_eq!(run.outcome, JobOutcome::Completed);
        let updates: Vec<(&str, DeliveryStatus, u32)> = run
            .delivery_updates
            .iter()
            .map(|u| (u.id.as_str(), u.status, u.attempts))
            .collect();
        assert!(
            updates.contains(&("d2", DeliveryStatus::Sent, 2)),
            "{updates:?}"
        );
        assert!(
            updates.contains(&("d3", DeliveryStatus::Canceled, 1)),
            "{updates:?}"
        );
        assert_eq!(run.message_updates[0].status, MessageStatus::Sent);
        assert!(run.details.iter().any(|d| d.is_retry));
    }

    #[tokio::test]
    async fn permanent_failures_and_exhausted_retries_end_the_message_in_error() {
        for (outcome, attempts_allowed) in [
            (Outcome::Rejected, 3),
            (Outcome::TokenDead, 3),
            (Outcome::CredentialInvalid, 3),
            (Outcome::Retry { after: None }, 1),
        ] {
            let script = Arc::new(Script::default());
            script.outcomes.lock().unwrap().push_back(outcome.clone());
            let i = integration(ProviderId::PushWebhook, true);
            let ctx = context("push", vec![push_channel(&i, &["a"])], vec![i]);
            let run = runner(script, attempts_allowed).run(&ctx, "w").await;
            assert_eq!(run.outcome, JobOutcome::Failed, "{outcome:?}");
            let m = &run.new_messages[0];
            assert_eq!(m.status, MessageStatus::Error, "{outcome:?}");
            assert_eq!(m.error_id.as_deref(), Some("unexpected_push_error"));
            assert_eq!(
                details(&run).last(),
                Some(&"There was one or more errors when trying to execute the notification")
            );
        }
    }

    #[tokio::test]
    async fn an_inactive_integration_or_a_canceled_event_sends_nothing() {
        let script = Arc::new(Script::default());
        let i = integration(ProviderId::PushWebhook, false);
        let ctx = context("push", vec![push_channel(&i, &["a"])], vec![i]);
        let run = runner(script.clone(), 3).run(&ctx, "w").await;
        assert_eq!(run.outcome, JobOutcome::Failed);
        assert_eq!(
            details(&run)[0],
            "Subscriber does not have an active integration"
        );
        let i = integration(ProviderId::PushWebhook, true);
        let mut ctx = context("push", vec![push_channel(&i, &["a"])], vec![i]);
        ctx.event.canceled = true;
        let run = runner(script.clone(), 3).run(&ctx, "w").await;
        assert_eq!(run.outcome, JobOutcome::Canceled);
        assert!(script.calls.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_job_that_keeps_crashing_its_worker_gives_up() {
        let script = Arc::new(Script::default());
        let i = integration(ProviderId::PushWebhook, true);
        let mut ctx = context("push", vec![push_channel(&i, &["a"])], vec![i]);
        ctx.job.runs = 7;
        let run = runner(script.clone(), 3).run(&ctx, "w").await;
        assert_eq!(run.outcome, JobOutcome::Failed);
        assert!(details(&run)[0].starts_with("Gave up after 7 runs"));
        assert!(script.calls.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn chat_channels_without_a_webhook_url_get_novus_warning() {
        let script = Arc::new(Script::default());
        let i = integration(ProviderId::Slack, true);
        let channel = ChannelTarget {
            provider_id: i.provider_id,
            integration_id: i.id.clone(),
            credentials: ChannelCredentials::default(),
            tokens: Vec::new(),
        };
        let ctx = context("chat", vec![channel], vec![i]);
        let run = runner(script.clone(), 3).run(&ctx, "w").await;
        let m = &run.new_messages[0];
        assert_eq!(m.channel, ChannelType::Chat);
        assert_eq!(
            (m.status, m.error_id.as_deref()),
            (
                MessageStatus::Warning,
                Some("no_subscriber_chat_channel_id")
            )
        );
        assert!(script.calls.lock().unwrap().is_empty());
        assert_eq!(run.outcome, JobOutcome::Failed);
    }
}
