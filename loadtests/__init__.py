"""Load tests for cardcert: locust users, synthetic cardholders and a pool seeder."""
