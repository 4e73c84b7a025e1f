//! The dashboard's figures: paid orders and revenue per currency, and a
//! small bar chart of daily revenue drawn as SVG on the server.

use chrono::{Days, NaiveDate};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Date, Text};

use crate::money::{Currency, Money};

/// Paid orders and revenue of one currency on one day.
#[derive(Debug, Clone, QueryableByName)]
pub struct DailySales {
    #[diesel(sql_type = Date)]
    pub day: NaiveDate,
    #[diesel(sql_type = Text)]
    pub currency: Currency,
    #[diesel(sql_type = BigInt)]
    pub orders: i64,
    #[diesel(sql_type = BigInt)]
    pub revenue_minor: i64,
}

/// A currency's paid orders and revenue over a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sales {
    pub currency: Currency,
    pub orders: i64,
    pub revenue: Money,
}

/// Sums the days from `since` on, per currency (largest revenue first).
pub fn sales_since(days: &[DailySales], since: NaiveDate) -> Vec<Sales> {
    let mut sales: Vec<Sales> = Vec::new();
    for day in days.iter().filter(|d| d.day >= since) {
        let revenue = Money::new(day.revenue_minor, day.currency)
            .unwrap_or_else(|_| Money::zero(day.currency));
        match sales.iter_mut().find(|s| s.currency == day.currency) {
            Some(sum) => {
                sum.orders += day.orders;
                sum.revenue = sum.revenue.checked_add(revenue).unwrap_or(sum.revenue);
            }
            None => sales.push(Sales {
                currency: day.currency,
                orders: day.orders,
                revenue,
            }),
        }
    }
    sales.sort_by_key(|s| std::cmp::Reverse(s.revenue.minor()));
    sales
}

/// One bar of the chart.
#[derive(Debug, Clone)]
pub struct Bar {
    pub day: NaiveDate,
    pub revenue: Money,
    pub orders: i64,
    /// Position and size in the SVG's units.
    pub x: u32,
    pub y: u32,
    pub height: u32,
}

/// The chart's drawing area.
pub const CHART_WIDTH: u32 = 600;
pub const CHART_HEIGHT: u32 = 160;
const BAR_GAP: u32 = 4;

/// A bar per day of the `count` days up to `today`, in `currency`, scaled
/// so that the best day fills the height.
pub fn chart(days: &[DailySales], currency: Currency, today: NaiveDate, count: u32) -> Vec<Bar> {
    let first = today
        .checked_sub_days(Days::new(u64::from(count.saturating_sub(1))))
        .unwrap_or(today);
    let per_day: Vec<(NaiveDate, i64, i64)> = (0..count)
        .filter_map(|i| first.checked_add_days(Days::new(u64::from(i))))
        .map(|day| {
            let found = days.iter().find(|d| d.day == day && d.currency == currency);
            (
                day,
                found.map_or(0, |d| d.revenue_minor),
                found.map_or(0, |d| d.orders),
            )
        })
        .collect();
    let best = per_day
        .iter()
        .map(|(_, revenue, _)| *revenue)
        .max()
        .unwrap_or(0)
        .max(1);
    let slot = CHART_WIDTH / count.max(1);
    per_day
        .into_iter()
        .enumerate()
        .map(|(i, (day, revenue, orders))| {
            let scaled = i128::from(revenue) * i128::from(CHART_HEIGHT) / i128::from(best);
            let height = u32::try_from(scaled)
                .unwrap_or(CHART_HEIGHT)
                .max(u32::from(revenue > 0));
            Bar {
                day,
                revenue: Money::new(revenue, currency).unwrap_or_else(|_| Money::zero(currency)),
                orders,
                x: u32::try_from(i).unwrap_or(0) * slot + BAR_GAP / 2,
                y: CHART_HEIGHT - height,
                height,
            }
        })
        .collect()
}

/// A bar's width.
pub fn bar_width(count: u32) -> u32 {
    (CHART_WIDTH / count.max(1)).saturating_sub(BAR_GAP).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32, currency: Currency, orders: i64, revenue_minor: i64) -> DailySales {
        DailySales {
            day: NaiveDate::from_ymd_opt(2026, 12, d).unwrap(),
            currency,
            orders,
            revenue_minor,
        }
    }

    #[test]
    fn sales_and_bars_follow_the_days() {
        let days = [
            day(1, Currency::Usd, 2, 5000),
            day(3, Currency::Usd, 1, 10_000),
            day(3, Currency::Eur, 1, 700),
        ];
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        assert_eq!(
            sales_since(&days, today),
            [
                Sales {
                    currency: Currency::Usd,
                    orders: 1,
                    revenue: Money::new(10_000, Currency::Usd).unwrap()
                },
                Sales {
                    currency: Currency::Eur,
                    orders: 1,
                    revenue: Money::new(700, Currency::Eur).unwrap()
                },
            ]
        );
        let bars = chart(&days, Currency::Usd, today, 3);
        assert_eq!(bars.len(), 3);
        assert_eq!(
            bars.iter().map(|b| b.height).collect::<Vec<_>>(),
            [80, 0, 160]
        );
        assert_eq!(bars[2].y, 0);
        assert_eq!(bars[1].revenue.minor(), 0);
    }
}
