//! Sample text for demo and bulk data: names, ticket subjects and bodies, replies, notes, tags.

use rand::Rng;
use rand::rngs::SmallRng;

pub(crate) const FIRST: &[&str] = &[
    "Ada",
    "Grace",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Dennis",
    "Frances",
    "Alan",
    "Radia",
    "Tim",
    "Hedy",
    "John",
    "Katherine",
    "Edsger",
    "Anita",
    "Guido",
    "Sophie",
    "Bjarne",
    "Mary",
];
pub(crate) const LAST: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Allen",
    "Turing",
    "Perlman",
    "Berners-Lee",
    "Lamarr",
    "Backus",
    "Johnson",
    "Dijkstra",
    "Borg",
    "van Rossum",
    "Wilson",
    "Stroustrup",
    "Shaw",
];

/// (category, subject, description) samples.
pub(crate) const SAMPLES: &[(&str, &str, &str)] = &[
    (
        "account",
        "Cannot log in after password reset",
        "I reset my password this morning but the login page keeps saying my credentials are invalid. I tried two browsers.",
    ),
    (
        "account",
        "Please change the email on my account",
        "I moved to a new company and need my account email changed from my old address. How can I do that?",
    ),
    (
        "account",
        "Two-factor codes are rejected",
        "My authenticator app codes are always rejected. The phone clock is set automatically.",
    ),
    (
        "billing",
        "Charged twice this month",
        "My card statement shows two charges for the November invoice. Please refund the duplicate.",
    ),
    (
        "billing",
        "Need an invoice with our VAT number",
        "Our accounting department needs the last three invoices re-issued with our VAT number on them.",
    ),
    (
        "billing",
        "Downgrade plan at end of cycle",
        "We would like to move from the Business plan to Team at the end of the current billing cycle.",
    ),
    (
        "technical",
        "API returns 502 intermittently",
        "Roughly one request in fifty to the orders endpoint returns 502 Bad Gateway since yesterday evening.",
    ),
    (
        "technical",
        "Webhook deliveries are delayed",
        "Webhooks arrive 10 to 20 minutes late. Our integration depends on near-real-time delivery.",
    ),
    (
        "technical",
        "VPN connection drops every hour",
        "The VPN client disconnects every hour on the hour and needs a manual reconnect. Logs attached on request.",
    ),
    (
        "bug",
        "Export to CSV cuts off long descriptions",
        "When I export reports to CSV, descriptions longer than 255 characters are truncated.",
    ),
    (
        "bug",
        "Dashboard chart shows wrong week",
        "The weekly chart on the dashboard labels the current week as last week. Time zone is Europe/Berlin.",
    ),
    (
        "bug",
        "Error 500 when uploading a PNG",
        "Uploading a PNG screenshot larger than 2 MB fails with an error 500 page. Smaller files work.",
    ),
    (
        "feature_request",
        "Dark mode for the portal",
        "Could you add a dark mode? Our team works night shifts and the white background is harsh.",
    ),
    (
        "feature_request",
        "Slack notifications per project",
        "I need Slack notifications routed to a different channel for each of our projects.",
    ),
    (
        "feature_request",
        "Bulk edit for contacts",
        "It would save us hours if we could edit the company field for many contacts at once.",
    ),
    (
        "question",
        "How do I add a team member?",
        "How do I invite a colleague to our workspace so they can see our tickets too?",
    ),
    (
        "question",
        "Where can I find the API documentation?",
        "I am building an integration. Where is the API reference and is there a sandbox?",
    ),
    (
        "question",
        "Is there a data retention policy?",
        "Our compliance team asks how long you keep ticket data and attachments after closing.",
    ),
    (
        "general",
        "Thank you for the quick help",
        "Just wanted to say thanks to the support team for sorting out our issue so quickly last week.",
    ),
    (
        "general",
        "Office closed over the holidays?",
        "Will support be available between Christmas and New Year, and with what hours?",
    ),
];

pub(crate) const AGENT_REPLIES: &[&str] = &[
    "Thanks for reaching out. I am looking into this now and will update you shortly.",
    "Could you send us the exact time this happened and a screenshot of the error?",
    "We found the cause and deployed a fix. Could you check whether it works for you now?",
    "I have forwarded this to our engineering team; we will keep you posted here.",
];
pub(crate) const CUSTOMER_REPLIES: &[&str] = &[
    "Thanks, here are the details you asked for: it happened around 10:15 this morning.",
    "Yes, that fixed it. Thank you!",
    "It is still happening for me, unfortunately.",
];
pub(crate) const NOTES: &[&str] = &[
    "Checked the logs: matches the incident from last Tuesday.",
    "Customer is on the Business plan; priority support applies.",
    "Escalated to engineering, see internal thread.",
];

/// Extra sentences that vary bulk-seeded descriptions, so search has more than 20 documents.
pub(crate) const DETAILS: &[&str] = &[
    "This started after the latest update.",
    "It happens on both the desktop app and the website.",
    "Three people on my team see the same thing.",
    "We are on the Business plan, account region eu-west.",
    "A colleague in another office cannot reproduce it.",
    "Restarting the browser did not help.",
    "It only happens in the mornings, around the daily sync.",
    "Our deadline is Friday, so a quick answer would help a lot.",
    "I attached nothing yet but can send logs or a screen recording.",
    "The problem appeared right after we changed our SSO settings.",
    "Firefox works, Chrome and Edge do not.",
    "We use the Android app version 4.12 on Pixel phones.",
    "Our finance team needs this sorted before month end.",
    "The same request worked fine last week.",
    "Please call me back if that is easier.",
    "We rely on this for our warehouse shift planning.",
];

/// Product areas named in bulk-seeded subjects.
pub(crate) const AREAS: &[&str] = &[
    "checkout",
    "mobile app",
    "reports",
    "calendar sync",
    "invoices",
    "SSO login",
    "search",
    "exports",
    "notifications",
    "team settings",
    "API keys",
    "dashboard",
];

/// Tags agents put on tickets, most common first.
const TAGS: &[&str] = &[
    "billing",
    "login",
    "bug",
    "vip",
    "refund",
    "mobile",
    "follow-up",
    "outage",
    "feature-request",
    "escalated",
    "invoice",
    "integration",
];

/// No tag on two tickets in five, one on a third, two or three on the rest; distinct, from
/// the front of the list more often (a few tags carry most tickets, as in real desks).
pub(super) fn pick_tags(rng: &mut SmallRng) -> Vec<&'static str> {
    let count = match rng.random_range(0..100) {
        0..40 => 0,
        40..75 => 1,
        75..95 => 2,
        _ => 3,
    };
    let mut out: Vec<&'static str> = Vec::with_capacity(count);
    while out.len() < count {
        // The smaller of two draws leans toward the common tags.
        let i = rng
            .random_range(0..TAGS.len())
            .min(rng.random_range(0..TAGS.len()));
        if !out.contains(&TAGS[i]) {
            out.push(TAGS[i]);
        }
    }
    out
}
