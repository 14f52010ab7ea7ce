//! Spin's mapping between the interface's values and PostgreSQL's:
//!
//! | parameter / value | PostgreSQL (column data type) |
//! |---|---|
//! | `boolean` | `bool` |
//! | `int8` (parameter only) | `"char"` |
//! | `int16`, `int32`, `int64` | `int2`, `int4`, `int8` (and serials) |
//! | `floating32`, `floating64` | `float4`, `float8` |
//! | `str` | `text`, `varchar`, `bpchar` (and `name`, parameter only) |
//! | `binary` | `bytea` |
//! | `date`, `time` | `date`, `time` |
//! | `datetime` | `timestamp` (a `timestamptz` column is typed `datetime`, but its values fail to convert, as on Spin) |
//! | `timestamp` (parameter only, seconds) | `timestamptz` |
//! | `uuid` | `uuid` |
//! | `jsonb` | `jsonb` (and `json`, parameter only) |
//! | `decimal` | `numeric` (what `rust_decimal` holds: no NaN, infinities or over 28 digits) |
//! | `range-int32`, `range-int64`, `range-decimal` | `int4range`, `int8range`, `numrange` |
//! | `array-int32`, `array-int64`, `array-decimal`, `array-str` | `int4[]`, `int8[]`, `numeric[]`, `text[]`/`varchar[]`/`bpchar[]` |
//! | `interval` | `interval` |
//! | `db-null` | NULL, any type |
//! | `unsupported` (value only) | anything else, its binary encoding |
//!
//! A parameter must suit the type the server infers for it (tokio-postgres
//! checks before sending), as on Spin.

use std::error::Error as StdError;

use bytes::BufMut;
use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use postgres_range::{BoundSided, BoundType, Normalizable, Range, RangeBound};
use rust_decimal::Decimal;
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};
use tokio_postgres::Row;

use crate::bindings::spin::postgres3_0_0::postgres as v3;
use crate::bindings::spin::postgres4_0_0::postgres::{
    Column, DbDataType, DbValue, Interval, ParameterValue, RangeBoundKind, RowSet,
};

type BoxError = Box<dyn StdError + Sync + Send>;

/// A parameter ready for tokio-postgres.
pub type SqlParam = Box<dyn ToSql + Sync + Send>;

/// The data type the interface reports for a column.
pub fn data_type(ty: &Type) -> DbDataType {
    match *ty {
        Type::BOOL => DbDataType::Boolean,
        Type::BYTEA => DbDataType::Binary,
        Type::FLOAT4 => DbDataType::Floating32,
        Type::FLOAT8 => DbDataType::Floating64,
        Type::INT2 => DbDataType::Int16,
        Type::INT4 => DbDataType::Int32,
        Type::INT8 => DbDataType::Int64,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => DbDataType::Str,
        Type::TIMESTAMP | Type::TIMESTAMPTZ => DbDataType::Datetime,
        Type::DATE => DbDataType::Date,
        Type::TIME => DbDataType::Time,
        Type::UUID => DbDataType::Uuid,
        Type::JSONB => DbDataType::Jsonb,
        Type::NUMERIC => DbDataType::Decimal,
        Type::INT4_RANGE => DbDataType::RangeInt32,
        Type::INT8_RANGE => DbDataType::RangeInt64,
        Type::NUM_RANGE => DbDataType::RangeDecimal,
        Type::INT4_ARRAY => DbDataType::ArrayInt32,
        Type::INT8_ARRAY => DbDataType::ArrayInt64,
        Type::NUMERIC_ARRAY => DbDataType::ArrayDecimal,
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY => DbDataType::ArrayStr,
        Type::INTERVAL => DbDataType::Interval,
        _ => DbDataType::Other(ty.name().to_owned()),
    }
}

pub fn columns(row: &Row) -> Vec<Column> {
    row.columns()
        .iter()
        .map(|column| Column {
            name: column.name().to_owned(),
            data_type: data_type(column.type_()),
        })
        .collect()
}

/// One row's values, or why one did not convert.
pub fn row(row: &Row) -> Result<Vec<DbValue>, String> {
    (0..row.len()).map(|i| value(row, i)).collect()
}

/// Column `i` of `row` as `T` (NULL is `db-null`), then as a value.
fn get<'a, T: FromSql<'a>>(
    row: &'a Row,
    i: usize,
    to_value: impl FnOnce(T) -> Result<DbValue, String>,
) -> Result<DbValue, String> {
    match row.try_get::<_, Option<T>>(i) {
        Ok(Some(v)) => to_value(v),
        Ok(None) => Ok(DbValue::DbNull),
        Err(e) => Err(format!("{e:?}")),
    }
}

fn value(row: &Row, i: usize) -> Result<DbValue, String> {
    let ok = |v| Ok(v);
    match *row.columns()[i].type_() {
        Type::BOOL => get(row, i, |v| ok(DbValue::Boolean(v))),
        Type::BYTEA => get(row, i, |v| ok(DbValue::Binary(v))),
        Type::FLOAT4 => get(row, i, |v| ok(DbValue::Floating32(v))),
        Type::FLOAT8 => get(row, i, |v| ok(DbValue::Floating64(v))),
        Type::INT2 => get(row, i, |v| ok(DbValue::Int16(v))),
        Type::INT4 => get(row, i, |v| ok(DbValue::Int32(v))),
        Type::INT8 => get(row, i, |v| ok(DbValue::Int64(v))),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => get(row, i, |v| ok(DbValue::Str(v))),
        // Only `timestamp` converts; a `timestamptz` fails as on Spin.
        Type::TIMESTAMP | Type::TIMESTAMPTZ => get(row, i, |v: NaiveDateTime| {
            ok(DbValue::Datetime(datetime_out(v)))
        }),
        Type::DATE => get(row, i, |v: NaiveDate| ok(DbValue::Date(date_out(v)))),
        Type::TIME => get(row, i, |v: NaiveTime| ok(DbValue::Time(time_out(v)))),
        Type::UUID => get(row, i, |v: uuid::Uuid| ok(DbValue::Uuid(v.to_string()))),
        Type::JSONB => get(row, i, |v: serde_json::Value| {
            serde_json::to_vec(&v)
                .map(DbValue::Jsonb)
                .map_err(|e| format!("invalid JSON from database: {e}"))
        }),
        Type::NUMERIC => get(row, i, |v: Decimal| ok(DbValue::Decimal(v.to_string()))),
        Type::INT4_RANGE => get(row, i, |v: Range<i32>| {
            ok(DbValue::RangeInt32(range_out(&v, |n| *n)))
        }),
        Type::INT8_RANGE => get(row, i, |v: Range<i64>| {
            ok(DbValue::RangeInt64(range_out(&v, |n| *n)))
        }),
        Type::NUM_RANGE => get(row, i, |v: Range<RangeDecimal>| {
            ok(DbValue::RangeDecimal(range_out(&v, |d| d.0.to_string())))
        }),
        Type::INT4_ARRAY => get(row, i, |v| ok(DbValue::ArrayInt32(v))),
        Type::INT8_ARRAY => get(row, i, |v| ok(DbValue::ArrayInt64(v))),
        Type::NUMERIC_ARRAY => get(row, i, |v: Vec<Option<Decimal>>| {
            ok(DbValue::ArrayDecimal(
                v.into_iter().map(|d| d.map(|d| d.to_string())).collect(),
            ))
        }),
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY => {
            get(row, i, |v| ok(DbValue::ArrayStr(v)))
        }
        Type::INTERVAL => get(row, i, |v: PgInterval| ok(DbValue::Interval(v.0))),
        _ => get(row, i, |v: Raw| ok(DbValue::Unsupported(v.0))),
    }
}

/// The bytes a value takes in the guest's result (Spin's measure).
pub fn memory_size(value: &DbValue) -> usize {
    let heap = match value {
        DbValue::Str(s) | DbValue::Uuid(s) | DbValue::Decimal(s) => s.len(),
        DbValue::Binary(b) | DbValue::Jsonb(b) | DbValue::Unsupported(b) => b.len(),
        DbValue::RangeDecimal((lower, upper)) => {
            lower.as_ref().map_or(0, |(s, _)| s.len()) + upper.as_ref().map_or(0, |(s, _)| s.len())
        }
        DbValue::ArrayInt32(v) => v.len() * std::mem::size_of::<Option<i32>>(),
        DbValue::ArrayInt64(v) => v.len() * std::mem::size_of::<Option<i64>>(),
        DbValue::ArrayDecimal(v) | DbValue::ArrayStr(v) => v
            .iter()
            .map(|s| std::mem::size_of::<Option<String>>() + s.as_ref().map_or(0, String::len))
            .sum(),
        _ => 0,
    };
    std::mem::size_of::<DbValue>() + heap
}

/// Every parameter converted, or the first that does not.
pub fn to_sql_all(params: &[ParameterValue]) -> Result<Vec<SqlParam>, String> {
    params.iter().map(to_sql).collect()
}

fn to_sql(value: &ParameterValue) -> Result<SqlParam, String> {
    Ok(match value {
        ParameterValue::Boolean(v) => Box::new(*v),
        ParameterValue::Int8(v) => Box::new(*v),
        ParameterValue::Int16(v) => Box::new(*v),
        ParameterValue::Int32(v) => Box::new(*v),
        ParameterValue::Int64(v) => Box::new(*v),
        ParameterValue::Floating32(v) => Box::new(*v),
        ParameterValue::Floating64(v) => Box::new(*v),
        ParameterValue::Str(v) => Box::new(v.clone()),
        ParameterValue::Binary(v) => Box::new(v.clone()),
        ParameterValue::Date(v) => Box::new(date_in(*v)?),
        ParameterValue::Time(v) => Box::new(time_in(*v)?),
        ParameterValue::Datetime(v) => Box::new(datetime_in(*v)?),
        ParameterValue::Timestamp(v) => Box::new(
            chrono::DateTime::<chrono::Utc>::from_timestamp(*v, 0)
                .ok_or_else(|| format!("invalid epoch timestamp {v}"))?,
        ),
        ParameterValue::Uuid(v) => {
            Box::new(uuid::Uuid::parse_str(v).map_err(|e| format!("invalid UUID {v}: {e}"))?)
        }
        ParameterValue::Jsonb(v) => Box::new(
            serde_json::from_slice::<serde_json::Value>(v)
                .map_err(|e| format!("invalid JSON {}: {e}", String::from_utf8_lossy(v)))?,
        ),
        ParameterValue::Decimal(v) => Box::new(decimal_in(v)?),
        ParameterValue::RangeInt32(v) => Box::new(range_in(v, |n| Ok(*n))?),
        ParameterValue::RangeInt64(v) => Box::new(range_in(v, |n| Ok(*n))?),
        ParameterValue::RangeDecimal(v) => {
            Box::new(range_in(v, |s| decimal_in(s).map(RangeDecimal))?)
        }
        ParameterValue::ArrayInt32(v) => Box::new(v.clone()),
        ParameterValue::ArrayInt64(v) => Box::new(v.clone()),
        ParameterValue::ArrayDecimal(v) => Box::new(
            v.iter()
                .map(|d| d.as_deref().map(decimal_in).transpose())
                .collect::<Result<Vec<_>, _>>()?,
        ),
        ParameterValue::ArrayStr(v) => Box::new(v.clone()),
        ParameterValue::Interval(v) => Box::new(PgInterval(*v)),
        ParameterValue::DbNull => Box::new(Null),
    })
}

fn decimal_in(text: &str) -> Result<Decimal, String> {
    Decimal::from_str_exact(text).map_err(|e| format!("invalid decimal {text}: {e}"))
}

fn date_in((year, month, day): (i32, u8, u8)) -> Result<NaiveDate, String> {
    NaiveDate::from_ymd_opt(year, month.into(), day.into())
        .ok_or_else(|| format!("invalid date y={year}, m={month}, d={day}"))
}

fn time_in((hour, minute, second, nanos): (u8, u8, u8, u32)) -> Result<NaiveTime, String> {
    NaiveTime::from_hms_nano_opt(hour.into(), minute.into(), second.into(), nanos)
        .ok_or_else(|| format!("invalid time {hour}:{minute}:{second}:{nanos}"))
}

fn datetime_in(
    (year, month, day, hour, minute, second, nanos): (i32, u8, u8, u8, u8, u8, u32),
) -> Result<NaiveDateTime, String> {
    Ok(NaiveDateTime::new(
        date_in((year, month, day))?,
        time_in((hour, minute, second, nanos))?,
    ))
}

// chrono's month, day, hour, minute and second always fit in a u8.
fn date_out(v: NaiveDate) -> (i32, u8, u8) {
    (v.year(), v.month() as u8, v.day() as u8)
}

fn time_out(v: NaiveTime) -> (u8, u8, u8, u32) {
    (
        v.hour() as u8,
        v.minute() as u8,
        v.second() as u8,
        v.nanosecond(),
    )
}

fn datetime_out(v: NaiveDateTime) -> (i32, u8, u8, u8, u8, u8, u32) {
    let (year, month, day) = date_out(v.date());
    let (hour, minute, second, nanos) = time_out(v.time());
    (year, month, day, hour, minute, second, nanos)
}

type Bound<T> = Option<(T, RangeBoundKind)>;

fn bound_type(kind: RangeBoundKind) -> BoundType {
    match kind {
        RangeBoundKind::Inclusive => BoundType::Inclusive,
        RangeBoundKind::Exclusive => BoundType::Exclusive,
    }
}

fn bound_kind(bound: BoundType) -> RangeBoundKind {
    match bound {
        BoundType::Inclusive => RangeBoundKind::Inclusive,
        BoundType::Exclusive => RangeBoundKind::Exclusive,
    }
}

fn range_in<W, T: Normalizable + PartialOrd>(
    (lower, upper): &(Bound<W>, Bound<W>),
    convert: impl Fn(&W) -> Result<T, String>,
) -> Result<Range<T>, String> {
    fn bound<S: BoundSided, W, T: Normalizable + PartialOrd>(
        bound: &Bound<W>,
        convert: &impl Fn(&W) -> Result<T, String>,
    ) -> Result<Option<RangeBound<S, T>>, String> {
        bound
            .as_ref()
            .map(|(value, kind)| Ok(RangeBound::new(convert(value)?, bound_type(*kind))))
            .transpose()
    }
    Ok(Range::new(bound(lower, &convert)?, bound(upper, &convert)?))
}

fn range_out<T: Normalizable + PartialOrd, W>(
    range: &Range<T>,
    convert: impl Fn(&T) -> W,
) -> (Bound<W>, Bound<W>) {
    let lower = range
        .lower()
        .map(|b| (convert(&b.value), bound_kind(b.type_)));
    let upper = range
        .upper()
        .map(|b| (convert(&b.value), bound_kind(b.type_)));
    (lower, upper)
}

/// A `numeric` as a range bound (`postgres_range` wants its bounds
/// normalizable; a continuous type is left as it is).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
struct RangeDecimal(Decimal);

impl Normalizable for RangeDecimal {
    fn normalize<S: BoundSided>(bound: RangeBound<S, Self>) -> RangeBound<S, Self> {
        bound
    }
}

impl ToSql for RangeDecimal {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        self.0.to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        <Decimal as ToSql>::accepts(ty)
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for RangeDecimal {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Decimal::from_sql(ty, raw).map(RangeDecimal)
    }

    fn accepts(ty: &Type) -> bool {
        <Decimal as FromSql>::accepts(ty)
    }
}

/// `interval` in PostgreSQL's binary form: microseconds, days, months.
#[derive(Debug)]
struct PgInterval(Interval);

impl ToSql for PgInterval {
    fn to_sql(&self, _: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        out.put_i64(self.0.micros);
        out.put_i32(self.0.days);
        out.put_i32(self.0.months);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::INTERVAL
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for PgInterval {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let bytes: [u8; 16] = raw
            .try_into()
            .map_err(|_| "unexpected binary format for PostgreSQL interval")?;
        let [m0, m1, m2, m3, m4, m5, m6, m7, d0, d1, d2, d3, n0, n1, n2, n3] = bytes;
        Ok(PgInterval(Interval {
            micros: i64::from_be_bytes([m0, m1, m2, m3, m4, m5, m6, m7]),
            days: i32::from_be_bytes([d0, d1, d2, d3]),
            months: i32::from_be_bytes([n0, n1, n2, n3]),
        }))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::INTERVAL
    }
}

/// Any other type's value, as the server's binary encoding.
struct Raw(Vec<u8>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(Raw(raw.to_vec()))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// `db-null`: NULL for a parameter of any type (an `Option::<T>::None`
/// would be checked against `T`).
#[derive(Debug)]
struct Null;

impl ToSql for Null {
    fn to_sql(&self, _: &Type, _: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        Ok(IsNull::Yes)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

// `@3.0.0` values: a subset of v4's parameters; v4's results narrowed to
// v3's (the types v3 lacks are `unsupported` values of `other` columns).

impl From<v3::ParameterValue> for ParameterValue {
    fn from(value: v3::ParameterValue) -> Self {
        match value {
            v3::ParameterValue::Boolean(v) => ParameterValue::Boolean(v),
            v3::ParameterValue::Int8(v) => ParameterValue::Int8(v),
            v3::ParameterValue::Int16(v) => ParameterValue::Int16(v),
            v3::ParameterValue::Int32(v) => ParameterValue::Int32(v),
            v3::ParameterValue::Int64(v) => ParameterValue::Int64(v),
            v3::ParameterValue::Floating32(v) => ParameterValue::Floating32(v),
            v3::ParameterValue::Floating64(v) => ParameterValue::Floating64(v),
            v3::ParameterValue::Str(v) => ParameterValue::Str(v),
            v3::ParameterValue::Binary(v) => ParameterValue::Binary(v),
            v3::ParameterValue::Date(v) => ParameterValue::Date(v),
            v3::ParameterValue::Time(v) => ParameterValue::Time(v),
            v3::ParameterValue::Datetime(v) => ParameterValue::Datetime(v),
            v3::ParameterValue::Timestamp(v) => ParameterValue::Timestamp(v),
            v3::ParameterValue::DbNull => ParameterValue::DbNull,
        }
    }
}

impl From<DbValue> for v3::DbValue {
    fn from(value: DbValue) -> Self {
        match value {
            DbValue::Boolean(v) => v3::DbValue::Boolean(v),
            DbValue::Int8(v) => v3::DbValue::Int8(v),
            DbValue::Int16(v) => v3::DbValue::Int16(v),
            DbValue::Int32(v) => v3::DbValue::Int32(v),
            DbValue::Int64(v) => v3::DbValue::Int64(v),
            DbValue::Floating32(v) => v3::DbValue::Floating32(v),
            DbValue::Floating64(v) => v3::DbValue::Floating64(v),
            DbValue::Str(v) => v3::DbValue::Str(v),
            DbValue::Binary(v) => v3::DbValue::Binary(v),
            DbValue::Date(v) => v3::DbValue::Date(v),
            DbValue::Time(v) => v3::DbValue::Time(v),
            DbValue::Datetime(v) => v3::DbValue::Datetime(v),
            DbValue::Timestamp(v) => v3::DbValue::Timestamp(v),
            DbValue::DbNull => v3::DbValue::DbNull,
            DbValue::Uuid(_)
            | DbValue::Jsonb(_)
            | DbValue::Decimal(_)
            | DbValue::RangeInt32(_)
            | DbValue::RangeInt64(_)
            | DbValue::RangeDecimal(_)
            | DbValue::ArrayInt32(_)
            | DbValue::ArrayInt64(_)
            | DbValue::ArrayDecimal(_)
            | DbValue::ArrayStr(_)
            | DbValue::Interval(_)
            | DbValue::Unsupported(_) => v3::DbValue::Unsupported,
        }
    }
}

impl From<DbDataType> for v3::DbDataType {
    fn from(value: DbDataType) -> Self {
        match value {
            DbDataType::Boolean => v3::DbDataType::Boolean,
            DbDataType::Int8 => v3::DbDataType::Int8,
            DbDataType::Int16 => v3::DbDataType::Int16,
            DbDataType::Int32 => v3::DbDataType::Int32,
            DbDataType::Int64 => v3::DbDataType::Int64,
            DbDataType::Floating32 => v3::DbDataType::Floating32,
            DbDataType::Floating64 => v3::DbDataType::Floating64,
            DbDataType::Str => v3::DbDataType::Str,
            DbDataType::Binary => v3::DbDataType::Binary,
            DbDataType::Date => v3::DbDataType::Date,
            DbDataType::Time => v3::DbDataType::Time,
            DbDataType::Datetime => v3::DbDataType::Datetime,
            DbDataType::Timestamp => v3::DbDataType::Timestamp,
            DbDataType::Uuid
            | DbDataType::Jsonb
            | DbDataType::Decimal
            | DbDataType::RangeInt32
            | DbDataType::RangeInt64
            | DbDataType::RangeDecimal
            | DbDataType::ArrayInt32
            | DbDataType::ArrayInt64
            | DbDataType::ArrayDecimal
            | DbDataType::ArrayStr
            | DbDataType::Interval
            | DbDataType::Other(_) => v3::DbDataType::Other,
        }
    }
}

impl From<RowSet> for v3::RowSet {
    fn from(value: RowSet) -> Self {
        v3::RowSet {
            columns: value
                .columns
                .into_iter()
                .map(|c| v3::Column {
                    name: c.name,
                    data_type: c.data_type.into(),
                })
                .collect(),
            rows: value
                .rows
                .into_iter()
                .map(|row| row.into_iter().map(Into::into).collect())
                .collect(),
        }
    }
}

impl From<super::v4::Error> for v3::Error {
    fn from(error: super::v4::Error) -> Self {
        use super::v4::{Error, QueryError};
        match error {
            Error::ConnectionFailed(e) => v3::Error::ConnectionFailed(e),
            Error::BadParameter(e) => v3::Error::BadParameter(e),
            Error::QueryFailed(QueryError::Text(text)) => v3::Error::QueryFailed(text),
            Error::QueryFailed(QueryError::DbError(e)) => v3::Error::QueryFailed(e.as_text),
            Error::ValueConversionFailed(e) => v3::Error::ValueConversionFailed(e),
            Error::Other(e) => v3::Error::Other(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_that_cannot_be_values_are_refused_by_name() {
        let refused = |p: ParameterValue| to_sql(&p).err().unwrap_or_default();
        assert!(refused(ParameterValue::Date((2024, 2, 30))).contains("invalid date"));
        assert!(refused(ParameterValue::Time((24, 0, 0, 0))).contains("invalid time"));
        assert!(refused(ParameterValue::Uuid("x".into())).contains("invalid UUID x"));
        assert!(refused(ParameterValue::Jsonb(b"{".to_vec())).contains("invalid JSON {"));
        assert!(refused(ParameterValue::Decimal("1.2.3".into())).contains("invalid decimal"));
        assert!(
            refused(ParameterValue::ArrayDecimal(vec![None, Some("z".into())]))
                .contains("invalid decimal z")
        );
        assert!(refused(ParameterValue::Timestamp(i64::MAX)).contains("invalid epoch"));
    }

    #[test]
    fn intervals_are_microseconds_days_and_months() {
        let interval = Interval {
            micros: -5,
            days: 3,
            months: 14,
        };
        let mut out = bytes::BytesMut::new();
        PgInterval(interval)
            .to_sql(&Type::INTERVAL, &mut out)
            .unwrap();
        assert_eq!(out.len(), 16);
        let back = PgInterval::from_sql(&Type::INTERVAL, &out).unwrap().0;
        assert_eq!((back.micros, back.days, back.months), (-5, 3, 14));
        assert!(PgInterval::from_sql(&Type::INTERVAL, &out[..8]).is_err());
    }

    #[test]
    fn ranges_keep_their_bounds() {
        let wit = (
            Some(("1.5".to_owned(), RangeBoundKind::Exclusive)),
            None::<(String, RangeBoundKind)>,
        );
        let range = range_in(&wit, |s| decimal_in(s).map(RangeDecimal)).unwrap();
        assert_eq!(range_out(&range, |d| d.0.to_string()), wit);
    }
}
