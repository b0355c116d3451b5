//! What to run: combinations × selected scenarios, each either runnable (every role has an
//! available platform) or skipped with its reason.

use harmony::combination::Combination;
use harmony::config::{Config, Platform};
use harmony::features::Scenario;
use harmony::report::Record;
use harmony_wire::selection::skip_reason;
use harmony_wire::Filter;

pub struct Item {
    pub combination: Combination,
    pub scenario: Scenario,
    /// Role → platform in start order, or why it is skipped.
    pub assignment: Result<Vec<(String, Platform)>, String>,
}

impl Item {
    pub fn platforms(&self) -> String {
        self.combination.label(self.scenario.roles.len())
    }

    pub fn describe(&self) -> String {
        let roles = match &self.assignment {
            Ok(a) => a
                .iter()
                .map(|(r, p)| format!("{r}={}", p.name))
                .collect::<Vec<_>>()
                .join(", "),
            Err(reason) => format!("skipped: {reason}"),
        };
        format!("{} | {} [{roles}]", self.platforms(), self.scenario.name)
    }
}

/// Combinations × scenarios. An unknown or unconfigured platform named explicitly is an
/// error (the message names the variable to set); `all` uses the available ones. Whether an
/// explicitly named serve can be started is [`startable`]'s question, asked only before a
/// run.
pub fn plan(
    config: &Config,
    names: &[String],
    filter: &Filter,
    scenarios: &[Scenario],
) -> Result<Vec<Item>, String> {
    let mut combinations = Vec::new();
    for name in names {
        if name == "all" {
            let available = config.available();
            for (platform, why) in config.unavailable() {
                eprintln!("harmony: skipping platform '{platform}' in 'all': {why}");
            }
            combinations.extend(Combination::all(&available));
            continue;
        }
        let combination = Combination::parse(name)?;
        for platform in &combination.platforms {
            config.platform(platform)?;
        }
        combinations.push(combination);
    }
    combinations.dedup();
    let mut items = Vec::new();
    for combination in combinations {
        for scenario in scenarios.iter().filter(|s| filter.selects(&s.name)) {
            let assignment = match skip_reason(scenario.tags.iter().map(String::as_str)) {
                Some(reason) => Err(reason.to_owned()),
                None => combination.assign(&scenario.roles).map(|pairs| {
                    pairs
                        .into_iter()
                        .map(|(role, p)| (role, config.platform(&p).expect("checked").clone()))
                        .collect()
                }),
            };
            items.push(Item {
                combination: combination.clone(),
                scenario: scenario.clone(),
                assignment,
            });
        }
    }
    Ok(items)
}

/// Checks that every platform a runnable item needs can be started, before anything runs.
/// Each record with the scenario it ran (a record whose item is not in `plan` is left out).
pub fn with_scenarios<'a>(
    plan: &'a [Item],
    records: &'a [Record],
) -> Vec<(&'a Record, &'a Scenario)> {
    records
        .iter()
        .filter_map(|record| {
            plan.iter()
                .find(|item| {
                    item.combination.name() == record.combination
                        && item.scenario.feature == record.feature
                        && item.scenario.name == record.scenario
                })
                .map(|item| (record, &item.scenario))
        })
        .collect()
}

pub fn startable(plan: &[Item]) -> Result<(), String> {
    let mut checked = Vec::new();
    for (_, platform) in plan
        .iter()
        .filter_map(|i| i.assignment.as_ref().ok())
        .flatten()
    {
        if !checked.contains(&platform.name) {
            platform.startable()?;
            checked.push(platform.name.clone());
        }
    }
    Ok(())
}
