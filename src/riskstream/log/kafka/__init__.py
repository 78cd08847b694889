"""The Apache Kafka backend (confluent-kafka / librdkafka); the only importer of confluent_kafka."""

from riskstream.log.kafka.admin import KafkaAdmin
from riskstream.log.kafka.consumer import KafkaConsumer
from riskstream.log.kafka.log import KafkaLog
from riskstream.log.kafka.producer import KafkaProducer

__all__ = ["KafkaAdmin", "KafkaConsumer", "KafkaLog", "KafkaProducer"]
