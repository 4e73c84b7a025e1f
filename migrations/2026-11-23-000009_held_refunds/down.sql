DROP TABLE held_refunds;
